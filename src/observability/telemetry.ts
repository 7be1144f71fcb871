import type { Attributes, Tracer } from '@opentelemetry/api';
import type { KeyspaceObserver } from '../keyspace/observer.js';
import type { EngineMetrics, Operation } from './metrics.js';
import { activeTracer, errorOutcome, inSpan } from './tracing.js';

/** Immediate gets timed: one in this many (a power of two). */
const HIT_SAMPLE = 1_024;

/**
 * The engine's read of one key, handed to {@link Telemetry.get} whole and
 * made once, so that the hot path makes no closure.
 */
export interface ReadPath<K, R> {
  /** Reads `key`: the answer itself when it is at hand (a hit), a promise when it has to wait. */
  read(keyspace: K, key: string, signal: AbortSignal | undefined): R | Promise<R>;
  /** The node that owns `key`, for the span; undefined when standalone. */
  ownerOf(keyspaceName: string, key: string): string | undefined;
}

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

  /**
   * Runs one engine get and reports it, as one promise. With a tracer, a span
   * `distcache.get`. With metrics, every get is counted (one in
   * {@link HIT_SAMPLE} of those answered at once is timed, as timing costs
   * more than a hit) and every get that waits is timed. Outcomes: `hit`,
   * `miss`, `not_found` or the error code. Unobserved, or answered at once
   * and not sampled, it allocates nothing but the promise.
   */
  get<K extends ObservedKeyspace, R>(
    path: ReadPath<K, R>,
    keyspace: K,
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<R> {
    const read = this.read(path, keyspace, key, signal);
    return read instanceof Promise ? read : Promise.resolve(read);
  }

  /**
   * {@link get}, with an answer at hand returned as is rather than as a
   * promise: for a caller with a hot path of its own (the session listener
   * answers a local hit in the same turn).
   */
  read<K extends ObservedKeyspace, R>(
    path: ReadPath<K, R>,
    keyspace: K,
    key: string,
    signal: AbortSignal | undefined,
  ): R | Promise<R> {
    const tracer = activeTracer();
    if (tracer !== undefined) return this.#tracedGet(tracer, path, keyspace, key, signal);
    const metrics = this.metrics;
    if (metrics !== undefined && (++this.#ticks & (HIT_SAMPLE - 1)) === 0)
      return this.#sampledGet(metrics, path, keyspace, key, signal);
    const read = path.read(keyspace, key, signal);
    if (read instanceof Promise)
      return metrics === undefined ? read : this.#timedWait(keyspace, performance.now(), read);
    if (metrics !== undefined) countImmediate(keyspace, read);
    return read;
  }

  /** A get timed whole, answered at once or not. */
  #sampledGet<K extends ObservedKeyspace, R>(
    metrics: EngineMetrics,
    path: ReadPath<K, R>,
    keyspace: K,
    key: string,
    signal: AbortSignal | undefined,
  ): R | Promise<R> {
    const started = performance.now();
    const read = path.read(keyspace, key, signal);
    if (read instanceof Promise) return this.#timedWait(keyspace, started, read);
    countImmediate(keyspace, read);
    metrics.observe(
      keyspace.name,
      'get',
      read === undefined ? 'not_found' : 'hit',
      (performance.now() - started) / 1000,
    );
    return read;
  }

  /** Counts and times a get that had to wait (a load or another node), from `started` until it settles. */
  #timedWait<R>(keyspace: ObservedKeyspace, started: number, read: Promise<R>): Promise<R> {
    return this.#record(keyspace.name, 'get', started, read, waitedOutcome);
  }

  #tracedGet<K extends ObservedKeyspace, R>(
    tracer: Tracer,
    path: ReadPath<K, R>,
    keyspace: K,
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<R> {
    const started = performance.now();
    let waited = false;
    const run = (): Promise<R> => {
      const read = path.read(keyspace, key, signal);
      waited = read instanceof Promise;
      return Promise.resolve(read);
    };
    const outcomeOf = (value: R) => (value === undefined ? 'not_found' : waited ? 'miss' : 'hit');
    const owner = path.ownerOf(keyspace.name, key);
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
  write(keyspaceName: string, operation: 'put' | 'delete', work: () => Promise<boolean>): Promise<boolean> {
    const outcomeOf = (done: boolean) => (done ? 'ok' : operation === 'put' ? 'not_written' : 'not_found');
    return this.#observe(
      `distcache.${operation}`,
      { 'distcache.keyspace': keyspaceName },
      work,
      outcomeOf,
      (outcome, seconds) => this.metrics?.request(keyspaceName, operation, outcome, seconds),
    );
  }

  /** A data-source load (behind the limiter and breaker): span `distcache.load`, histogram by outcome. */
  load<T>(keyspaceName: string, work: () => Promise<T>, outcomeOf: (value: T) => string): Promise<T> {
    return this.#observe(
      'distcache.load',
      { 'distcache.keyspace': keyspaceName },
      work,
      outcomeOf,
      (outcome, seconds) => this.metrics?.load(keyspaceName, outcome, seconds),
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

  breakerTransition(keyspaceName: string, state: string): void {
    this.metrics?.breakerTransition(keyspaceName, state);
  }

  membershipChange(kind: string): void {
    this.metrics?.membershipChange(kind);
  }

  sessionOperation(operation: string, status: string): void {
    this.metrics?.sessionOperation(operation, status);
  }

  /** A copy of an async write did not reach its owner. */
  replicationFailure(keyspaceName: string): void {
    this.metrics?.replicationFailure(keyspaceName);
  }

  #record<T>(
    keyspaceName: string,
    operation: Operation,
    started: number,
    running: Promise<T>,
    outcomeOf: (value: T) => string,
  ): Promise<T> {
    const metrics = this.metrics;
    return metrics === undefined
      ? running
      : measured(running, started, outcomeOf, (outcome, seconds) =>
          metrics.request(keyspaceName, operation, outcome, seconds),
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

/** Counts a get answered at once on its keyspace: one increment, read by the metrics at scrape time. */
function countImmediate(keyspace: ObservedKeyspace, read: unknown): void {
  if (read !== undefined) keyspace.immediateHits++;
  else keyspace.immediateNotFound++;
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
