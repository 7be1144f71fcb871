import { DistCacheError, ErrorCode, describeValue, isDistCacheError } from '../errors.js';
import { TickBatcher } from '../lib/tick-batcher.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { toStoredBytes } from './entry-input.js';
import { alignFetchManyAnswer } from './fetch-many-answer.js';
import type { KeyspaceObserver } from './observer.js';
import { RateLimiter } from './rate-limiter.js';
import type { KeyspaceConfig } from './settings.js';
import type { BreakerState, DataSource } from './types.js';

/** Counters a loader keeps for the keyspace's stats. */
export interface LoaderCounters {
  /** Data-source calls made (a batch through `fetchMany` is one). */
  loads: number;
  /** Data-source calls that failed (threw, timed out, answered the wrong shape), and values of the wrong type. */
  loadErrors: number;
  /** Loads refused before reaching the data source, by the rate limiter or the open breaker. */
  rejectedLoads: number;
}

/** What a load resolves for one key: its bytes, or null when it does not exist. */
type Loaded = Uint8Array | null;

/**
 * Loads keys from a keyspace's data source: rate limiter → circuit breaker →
 * `fetch` (or `fetchMany` for a batch) under the read timeout → the bytes to
 * store (`null` when the key does not exist). Callers collapse concurrent
 * loads of a key first (single-flight), so each key asked here is loaded once.
 * With `fetchMany`, keys asked in the same tick are batched (see
 * {@link TickBatcher}); a batch is one call for the limiter and the breaker.
 */
export class Loader {
  readonly counters: LoaderCounters = { loads: 0, loadErrors: 0, rejectedLoads: 0 };
  readonly #config: KeyspaceConfig;
  readonly #dataSource: DataSource<unknown>;
  readonly #limiter: RateLimiter | undefined;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #observer: KeyspaceObserver;
  readonly #batcher: TickBatcher<Loaded, DistCacheError> | undefined;

  constructor(
    config: KeyspaceConfig,
    dataSource: DataSource<unknown>,
    onBreakerState: (state: BreakerState) => void,
    observer: KeyspaceObserver,
  ) {
    this.#config = config;
    this.#observer = observer;
    this.#dataSource = dataSource;
    this.#limiter = config.rateLimit && new RateLimiter(config.rateLimit);
    this.#breaker = config.circuitBreaker && new CircuitBreaker(config.circuitBreaker, onBreakerState);
    this.#batcher =
      dataSource.fetchMany &&
      new TickBatcher<Loaded, DistCacheError>(config.maxBatch, (keys) => this.#loadBatch(keys), isFailure);
  }

  /** Loads `key`; rejects with a DistCacheError (RATE_LIMITED, CIRCUIT_OPEN, TIMEOUT or DATASOURCE_FAILED). */
  load(key: string): Promise<Loaded> {
    return this.#batcher === undefined ? this.#loadOne(key) : this.#batcher.load(key);
  }

  #loadOne(key: string): Promise<Loaded> {
    const load = () => this.#guarded(() => this.#fetch(key));
    return this.#observer.active ? this.#observer.load(this.#config.name, load, loadOutcome) : load();
  }

  /** A batch from the batcher: one key through `fetch`, more through `fetchMany`; each key's value or its own error. */
  #loadBatch(keys: string[]): Promise<readonly (Loaded | DistCacheError)[]> {
    if (keys.length === 1) return this.#loadOne(keys[0]!).then((value) => [value]);
    const load = () => this.#guarded(() => this.#fetchMany(keys));
    return this.#observer.active ? this.#observer.load(this.#config.name, load, batchOutcome) : load();
  }

  /** Runs one data-source call behind the limiter and the breaker, counting the loads they refuse. */
  async #guarded<T>(call: () => Promise<T>): Promise<T> {
    try {
      const guarded = this.#breaker ? () => this.#breaker!.run(call) : call;
      return await (this.#limiter ? this.#limiter.schedule(guarded) : guarded());
    } catch (error) {
      if (
        isDistCacheError(error, ErrorCode.DATASOURCE_RATE_LIMITED) ||
        isDistCacheError(error, ErrorCode.DATASOURCE_CIRCUIT_OPEN)
      ) {
        this.counters.rejectedLoads++;
      }
      throw error;
    }
  }

  /** The breaker's state, or `disabled` when the keyspace has none. */
  get breakerState(): BreakerState | 'disabled' {
    return this.#breaker?.state ?? 'disabled';
  }

  /** Loads waiting for a rate-limiter slot. */
  get limiterQueued(): number {
    return this.#limiter?.queued ?? 0;
  }

  /** Releases the limiter's and breaker's timers; waiting loads are dropped. */
  async stop(): Promise<void> {
    this.#breaker?.shutdown();
    await this.#limiter?.stop();
  }

  /** One `fetch`, bounded by the read timeout; the result validated and encoded. */
  async #fetch(key: string): Promise<Loaded> {
    const value = await this.#call(`key ${describeValue(key)}`, (signal) => this.#dataSource.fetch(key, { signal }));
    try {
      return value === undefined || value === null ? null : this.#encode(value);
    } catch (error) {
      this.counters.loadErrors++;
      throw error;
    }
  }

  /**
   * One `fetchMany`, bounded by the read timeout. An answer of the wrong shape
   * fails the batch; a value of the wrong type fails its key only.
   */
  async #fetchMany(keys: string[]): Promise<(Loaded | DistCacheError)[]> {
    const what = `${keys.length} keys (${describeValue(keys[0])}, ...)`;
    const answer = await this.#call(what, async (signal) =>
      // A copy: the data source may sort or trim the array it is given.
      alignFetchManyAnswer(await this.#dataSource.fetchMany!(keys.slice(), { signal }), keys),
    );
    return answer.map((value) => {
      if (value === undefined || value === null) return null;
      try {
        return this.#encode(value);
      } catch (error) {
        this.counters.loadErrors++;
        return error as DistCacheError;
      }
    });
  }

  /**
   * Runs one data-source call with an AbortSignal that fires on the read
   * timeout. A timeout is ERR_TIMEOUT; any other failure ERR_DATASOURCE_FAILED
   * with the original error as `cause`.
   */
  async #call<T>(what: string, call: (signal: AbortSignal) => T | Promise<T>): Promise<T> {
    this.counters.loads++;
    const { name, readTimeout } = this.#config;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new DistCacheError(
          ErrorCode.TIMEOUT,
          `keyspace "${name}": data source did not answer within readTimeout ${readTimeout} ms`,
        );
        controller.abort(error);
        reject(error);
      }, readTimeout);
    });
    try {
      const called = Promise.resolve().then(() => call(controller.signal));
      called.catch(() => undefined); // a late failure after the timeout is not unhandled
      return await Promise.race([called, timedOut]);
    } catch (error) {
      this.counters.loadErrors++;
      if (isDistCacheError(error, ErrorCode.TIMEOUT) || isDistCacheError(error, ErrorCode.DATASOURCE_FAILED))
        throw error;
      throw new DistCacheError(
        ErrorCode.DATASOURCE_FAILED,
        `keyspace "${name}": data source failed for ${what}: ${messageOf(error)}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  #encode(value: unknown): Uint8Array {
    try {
      return toStoredBytes(value, this.#config.codec, this.#config.name);
    } catch (error) {
      throw new DistCacheError(
        ErrorCode.DATASOURCE_FAILED,
        `keyspace "${this.#config.name}": data source returned an unusable value: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }
}

/** Tells a key's own failure in a batch's answer from its value. */
function isFailure(answer: Loaded | DistCacheError): answer is DistCacheError {
  return answer instanceof DistCacheError;
}

function loadOutcome(value: Loaded): string {
  return value === null ? 'not_found' : 'found';
}

/** A batch is `found` when it found any of its keys. */
function batchOutcome(values: readonly (Loaded | DistCacheError)[]): string {
  return values.some((value) => value instanceof Uint8Array) ? 'found' : 'not_found';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : describeValue(error);
}
