import OpossumBreaker from 'opossum';
import { DistCacheError, ErrorCode } from '../errors.js';
import type { BreakerState } from './types.js';

/** Resolved circuit breaker settings of one keyspace's data source. */
export interface CircuitBreakerSettings {
  /** Consecutive failed loads that open the breaker. */
  readonly failureThreshold: number;
  /** Time in ms the breaker stays open before letting a single probe through. */
  readonly resetTimeout: number;
}

type Action = () => Promise<unknown>;

/**
 * A circuit breaker in front of a data source, built on opossum. opossum
 * opens on an error percentage over a rolling window; distcache promises
 * "N consecutive failures open it", so the percentage rule is switched off
 * (its volume threshold is never reached) and this class opens the breaker
 * itself on the Nth failure in a row. opossum keeps the rest: the open →
 * half-open timer, the single probe, and closing on its success.
 */
export class CircuitBreaker {
  readonly #breaker: OpossumBreaker<[Action], unknown>;
  readonly #settings: CircuitBreakerSettings;
  #consecutiveFailures = 0;

  /** @param onStateChange - called on every transition, e.g. to log it. */
  constructor(settings: CircuitBreakerSettings, onStateChange: (state: BreakerState) => void) {
    this.#settings = settings;
    this.#breaker = new OpossumBreaker((action: Action) => action(), {
      timeout: false,
      resetTimeout: settings.resetTimeout,
      volumeThreshold: Number.MAX_SAFE_INTEGER,
      enableSnapshots: false,
      rollingPercentilesEnabled: false,
    });
    this.#breaker.on('success', () => {
      this.#consecutiveFailures = 0;
    });
    this.#breaker.on('failure', () => {
      this.#consecutiveFailures++;
      if (this.#breaker.closed && this.#consecutiveFailures >= this.#settings.failureThreshold) this.#breaker.open();
    });
    this.#breaker.on('open', () => {
      this.#consecutiveFailures = 0;
      onStateChange('open');
    });
    this.#breaker.on('halfOpen', () => onStateChange('half-open'));
    this.#breaker.on('close', () => onStateChange('closed'));
  }

  /** Runs `action` unless the breaker is open; rejects with ERR_DATASOURCE_CIRCUIT_OPEN when it is. */
  run<T>(action: () => Promise<T>): Promise<T> {
    return (this.#breaker.fire(action) as Promise<T>).catch((error: unknown) => {
      throw (error as { code?: unknown } | null)?.code === 'EOPENBREAKER' ? this.#openError() : error;
    });
  }

  /** The current state. */
  get state(): BreakerState {
    if (this.#breaker.halfOpen) return 'half-open';
    return this.#breaker.opened ? 'open' : 'closed';
  }

  /** Stops opossum's timers. */
  shutdown(): void {
    this.#breaker.shutdown();
  }

  #openError(): DistCacheError {
    return new DistCacheError(
      ErrorCode.DATASOURCE_CIRCUIT_OPEN,
      `circuit breaker is open after ${this.#settings.failureThreshold} consecutive data source failures; ` +
        `next probe in at most ${this.#settings.resetTimeout} ms`,
    );
  }
}
