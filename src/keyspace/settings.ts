import type { CircuitBreakerSettings } from './circuit-breaker.js';
import type { Codec } from './codecs.js';
import type { RateLimitSettings } from './rate-limiter.js';
import type { DataSource } from './types.js';

/** A keyspace's options with every default applied (by the engine's config): what the keyspace on a node reads. */
export interface KeyspaceConfig {
  readonly name: string;
  readonly maxBytes: number;
  readonly dataSource: DataSource<unknown> | undefined;
  readonly expiresAt: ((key: string) => Date | number | undefined) | undefined;
  readonly defaultTtl: number;
  readonly readTimeout: number;
  readonly rateLimit: RateLimitSettings | undefined;
  readonly circuitBreaker: CircuitBreakerSettings | undefined;
  readonly codec: Codec<unknown> | undefined;
  readonly staleIfError: number;
  readonly maxBatch: number;
  /** Fraction of an entry's life after which a get reloads it in the background; 0 = off. */
  readonly refreshAhead: number;
  readonly staleWhileRevalidate: number;
  /** Largest fraction by which the keyspace's own TTLs are spread either way; 0 = exact. */
  readonly ttlJitter: number;
  readonly negativeTtl: number;
  readonly writeTimeout: number;
  readonly warmKeys: readonly string[];
  readonly hotCache: boolean;
  readonly replicaCount: number;
  readonly replicaReads: boolean;
  /** Whether a put or delete waits for every copy (`sync`) or for one owner (`async`). */
  readonly replication: 'sync' | 'async';
}
