import { DistCacheError, ErrorCode, describeValue, isDistCacheError } from '../errors.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { toStoredBytes } from './entry-input.js';
import type { KeyspaceObserver } from './observer.js';
import { RateLimiter } from './rate-limiter.js';
import type { KeyspaceConfig } from './settings.js';
import type { BreakerState, DataSource } from './types.js';

/** Counters a loader keeps for the keyspace's stats. */
export interface LoaderCounters {
  /** Data-source calls made. */
  loads: number;
  /** Data-source calls that failed: threw, timed out, or returned a value of the wrong type. */
  loadErrors: number;
  /** Loads refused before reaching the data source, by the rate limiter or the open breaker. */
  rejectedLoads: number;
}

/**
 * Loads one key from a keyspace's data source: rate limiter → circuit
 * breaker → `fetch` under the read timeout → the bytes to store (`null` when
 * the key does not exist). Callers collapse concurrent loads of a key first
 * (single-flight), so each call here is one real data-source call.
 */
export class Loader {
  readonly counters: LoaderCounters = { loads: 0, loadErrors: 0, rejectedLoads: 0 };
  readonly #config: KeyspaceConfig;
  readonly #dataSource: DataSource<unknown>;
  readonly #limiter: RateLimiter | undefined;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #observer: KeyspaceObserver;

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
  }

  /** Loads `key`; rejects with a DistCacheError (RATE_LIMITED, CIRCUIT_OPEN, TIMEOUT or DATASOURCE_FAILED). */
  load(key: string): Promise<Uint8Array | null> {
    if (!this.#observer.active) return this.#load(key);
    return this.#observer.load(this.#config.name, () => this.#load(key), loadOutcome);
  }

  async #load(key: string): Promise<Uint8Array | null> {
    try {
      const guarded = this.#breaker ? () => this.#breaker!.run(() => this.#fetch(key)) : () => this.#fetch(key);
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

  /** One data-source call, bounded by the read timeout; the result validated and encoded. */
  async #fetch(key: string): Promise<Uint8Array | null> {
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
      const fetched = Promise.resolve().then(() => this.#dataSource.fetch(key, { signal: controller.signal }));
      fetched.catch(() => undefined); // a late failure after the timeout is not unhandled
      const value = await Promise.race([fetched, timedOut]);
      return value === undefined || value === null ? null : this.#encode(value);
    } catch (error) {
      this.counters.loadErrors++;
      if (isDistCacheError(error, ErrorCode.TIMEOUT) || isDistCacheError(error, ErrorCode.DATASOURCE_FAILED))
        throw error;
      throw new DistCacheError(
        ErrorCode.DATASOURCE_FAILED,
        `keyspace "${name}": data source failed for key ${describeValue(key)}: ${messageOf(error)}`,
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

function loadOutcome(value: Uint8Array | null): string {
  return value === null ? 'not_found' : 'found';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : describeValue(error);
}
