import type { Attributes, Tracer } from '@opentelemetry/api';
import type { KeyspaceObserver } from '../keyspace/observer.js';
import type { EngineMetrics, Operation } from './metrics.js';
import { activeTracer, errorOutcome, inSpan } from './tracing.js';

/** Immediate gets timed: one in this many (a power of two). */
export const HIT_SAMPLE = 1_024;

/** The engine's read of one key, passed in whole so the hot path makes no closure. */
export type Reader<K, R> = (keyspace: K, key: string, signal: AbortSignal | undefined) => R | Promise<R>;

/**
 * A keyspace as telemetry sees it: its name, and its counts of gets answered
 * at once (kept on the keyspace, one increment each, and read by the metrics
 * at scrape time).
 */
export interface ObservedKeyspace {
  readonly name: string;
  immediateHits: number;
  immediateNotFound: number;
}

/**
 * What the engine's parts report as they work: Prometheus metrics when the
 * admin server is on, OpenTelemetry spans when the application registered a
 * tracer provider. With neither, each call is one check and then the work
 * itself: no timing, no span, no closure kept.
 */
export class Telemetry implements KeyspaceObserver {
  /** Gets seen, for sampling the timing of immediate answers. */
  #ticks = 0;

  constructor(readonly metrics: EngineMetrics | undefined) {}

  /** Whether calls are observed at all; when not, the engine takes its plain path. */
  get active(): boolean {
    return this.metrics !== undefined || activeTracer() !== undefined;
  }

  /** True for one get in {@link HIT_SAMPLE}: that one is timed even when answered at once. */
  sample(): boolean {
    return (++this.#ticks & (HIT_SAMPLE - 1)) === 0;
  }

  /** Counts and times a get that had to wait (a load or another node), from now until it settles. */
  waited<R>(keyspace: ObservedKeyspace, read: Promise<R>): Promise<R> {
    return this.#record(keyspace.name, 'get', performance.now(), read, waitedOutcome);
  }

  /**
   * A get timed whole: a sampled one, or any while a tracer is registered
   * (span `distcache.get` with the keyspace, outcome and owner). Outcomes:
   * `hit`, `miss`, `not_found` or the error code.
   */
  observedGet<K extends ObservedKeyspace, R>(
    read: Reader<K, R>,
    keyspace: K,
    key: string,
    signal: AbortSignal | undefined,
    ownerOf: (keyspace: string, key: string) => string | undefined,
  ): Promise<R> {
    const tracer = activeTracer();
    if (tracer !== undefined) return this.#tracedGet(tracer, read, keyspace, key, signal, ownerOf(keyspace.name, key));
    const started = performance.now();
    const result = read(keyspace, key, signal);
    if (result instanceof Promise) return this.#record(keyspace.name, 'get', started, result, waitedOutcome);
    if (result !== undefined) keyspace.immediateHits++;
    else keyspace.immediateNotFound++;
    this.metrics?.observe(
      keyspace.name,
      'get',
      result === undefined ? 'not_found' : 'hit',
      (performance.now() - started) / 1000,
    );
    return Promise.resolve(result);
  }

  #tracedGet<K extends ObservedKeyspace, R>(
    tracer: Tracer,
    read: Reader<K, R>,
    keyspace: K,
    key: string,
    signal: AbortSignal | undefined,
    owner: string | undefined,
  ): Promise<R> {
    const started = performance.now();
    let waited = false;
    const run = (): Promise<R> => {
      const result = read(keyspace, key, signal);
      waited = result instanceof Promise;
      return Promise.resolve(result);
    };
    const outcomeOf = (value: R) => (value === undefined ? 'not_found' : waited ? 'miss' : 'hit');
    const attributes: Attributes = {
      'distcache.keyspace': keyspace.name,
      ...(owner === undefined ? {} : { 'distcache.owner': owner }),
    };
    return this.#record(
      keyspace.name,
      'get',
      started,
      inSpan(tracer, 'distcache.get', attributes, run, outcomeOf),
      outcomeOf,
    );
  }

  /** An engine put or delete: outcome `ok` (or `not_written`, `not_found`) or the error code; span `distcache.put`/`distcache.delete`. */
  write(keyspace: string, operation: 'put' | 'delete', work: () => Promise<boolean>): Promise<boolean> {
    const outcomeOf = (done: boolean) => (done ? 'ok' : operation === 'put' ? 'not_written' : 'not_found');
    return this.#observe(
      `distcache.${operation}`,
      { 'distcache.keyspace': keyspace },
      work,
      outcomeOf,
      (outcome, seconds) => this.metrics?.request(keyspace, operation, outcome, seconds),
    );
  }

  /** A data-source load (behind the limiter and breaker): span `distcache.load`, histogram by outcome. */
  load<T>(keyspace: string, work: () => Promise<T>, outcomeOf: (value: T) => string): Promise<T> {
    return this.#observe('distcache.load', { 'distcache.keyspace': keyspace }, work, outcomeOf, (outcome, seconds) =>
      this.metrics?.load(keyspace, outcome, seconds),
    );
  }

  /** A request to another node: span `distcache.peer`, histogram by message type and outcome. */
  peerRequest<T>(peer: string, type: string, work: () => Promise<T>): Promise<T> {
    return this.#observe(
      'distcache.peer',
      { 'distcache.peer': peer, 'distcache.message': type },
      work,
      () => 'ok',
      (outcome, seconds) => this.metrics?.peerRequest(type, outcome, seconds),
    );
  }

  breakerTransition(keyspace: string, state: string): void {
    this.metrics?.breakerTransition(keyspace, state);
  }

  membershipChange(kind: string): void {
    this.metrics?.membershipChange(kind);
  }

  sessionOperation(operation: string, status: string): void {
    this.metrics?.sessionOperation(operation, status);
  }

  #record<T>(
    keyspace: string,
    operation: Operation,
    started: number,
    running: Promise<T>,
    outcomeOf: (value: T) => string,
  ): Promise<T> {
    const metrics = this.metrics;
    return metrics === undefined
      ? running
      : measured(running, started, outcomeOf, (outcome, seconds) =>
          metrics.request(keyspace, operation, outcome, seconds),
        );
  }

  #observe<T>(
    name: string,
    attributes: Attributes,
    work: () => Promise<T>,
    outcomeOf: (value: T) => string,
    record: (outcome: string, seconds: number) => void,
  ): Promise<T> {
    const tracer = activeTracer();
    if (this.metrics === undefined && tracer === undefined) return work();
    const started = performance.now();
    const running = tracer ? inSpan(tracer, name, attributes, work, outcomeOf) : work();
    return this.metrics === undefined ? running : measured(running, started, outcomeOf, record);
  }
}

/** The outcome of a get that had to wait. */
function waitedOutcome(value: unknown): string {
  return value === undefined ? 'not_found' : 'miss';
}

/** `running`, recording its outcome (or its error's code) and its seconds since `started` once it settles. */
function measured<T>(
  running: Promise<T>,
  started: number,
  outcomeOf: (value: T) => string,
  record: (outcome: string, seconds: number) => void,
): Promise<T> {
  return running.then(
    (value) => {
      record(outcomeOf(value), (performance.now() - started) / 1000);
      return value;
    },
    (error: unknown) => {
      record(errorOutcome(error), (performance.now() - started) / 1000);
      throw error;
    },
  );
}
