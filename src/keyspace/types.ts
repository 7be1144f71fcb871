/**
 * The keyspace's data types: what applications pass in and get back, and the
 * raw reads and prepared writes the cluster moves between nodes. A leaf
 * module: it imports nothing, so every layer may use these types.
 */

/** Where a keyspace loads missing keys from: a database, an API. */
export interface DataSource<V = Uint8Array> {
  /**
   * Loads one key. Return `undefined` or `null` when the key does not exist.
   * `signal` fires when the keyspace's `readTimeout` elapses: pass it on to
   * the driver so abandoned queries stop.
   */
  fetch(key: string, context: { signal: AbortSignal }): Promise<V | null | undefined> | V | null | undefined;
}

/** Where a breaker stands: `closed` lets calls through, `open` refuses them, `half-open` lets one probe through. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** What `get` resolves for a key that exists. */
export interface GetResult<V = Uint8Array> {
  readonly key: string;
  /** The value. Bytes returned by a keyspace without a codec are the cached copy: treat them as read-only. */
  readonly value: V;
  /** Present and true when the value expired and was served because reloading it failed (`staleIfError`). */
  readonly stale?: true;
}

/** One entry to write with `put`. Give `ttl` or `expiresAt`, not both; neither = the keyspace's expiry rules. */
export interface PutEntry<V = Uint8Array> {
  key: string;
  value: V;
  /** Time to live in ms; 0 = never expires. */
  ttl?: number;
  /** Expiry as a Date or epoch ms. */
  expiresAt?: Date | number;
}

/** A keyspace's counters and sizes, as returned by `engine.stats(name)`. */
export interface KeyspaceStats {
  /** Entries held, including expired ones not yet dropped. */
  readonly entries: number;
  /** Bytes the entries cost (key + value + fixed overhead each); never more than maxBytes. */
  readonly bytes: number;
  readonly maxBytes: number;
  /** Gets answered from the store. */
  readonly hits: number;
  /** Gets that did not find a fresh entry. */
  readonly misses: number;
  /** Data-source calls made. */
  readonly loads: number;
  /** Data-source calls that failed. */
  readonly loadErrors: number;
  /** Loads refused before the data source by the rate limiter or the open breaker. */
  readonly rejectedLoads: number;
  /** Expired values served because reloading failed. */
  readonly staleServed: number;
  /** Entries removed to make room. */
  readonly evictions: number;
  /** Circuit breaker state, or `disabled` when the keyspace has none. */
  readonly breakerState: BreakerState | 'disabled';
  /** Loads waiting for a rate-limiter slot. */
  readonly limiterQueued: number;
}

/** An entry validated and encoded by `preparePut`, ready to write. */
export interface PreparedPut {
  readonly key: string;
  readonly bytes: Uint8Array;
  /** Epoch ms, 0 = never. */
  readonly expiry: number;
}

/** A raw read: the stored bytes (null = does not exist), their expiry (epoch ms, 0 = never), and whether they are stale. */
export interface ReadResult {
  readonly value: Uint8Array | null;
  readonly expiresAt: number;
  readonly stale?: boolean;
}
