import type { BreakerState } from './types.js';

/**
 * What a keyspace reports as it works: data-source loads and breaker
 * transitions. The engine's telemetry implements it; the keyspace knows only
 * this interface, so it depends on nothing above it.
 */
export interface KeyspaceObserver {
  /** Whether loads are observed at all; when not, the loader calls the data source directly. */
  readonly active: boolean;
  /** Runs one data-source load, reporting its duration and `outcomeOf` its result (or its error's code). */
  load<T>(keyspaceName: string, work: () => Promise<T>, outcomeOf: (value: T) => string): Promise<T>;
  /** The keyspace's circuit breaker entered `state`. */
  breakerTransition(keyspaceName: string, state: BreakerState): void;
}
