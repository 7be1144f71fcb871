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
  /**
   * Loads several keys in one call (optional), e.g. one `WHERE id = ANY($1)`
   * query. With it, the keys of a `getMany` and the cold keys of concurrent
   * `get`s asked in the same tick are loaded together, at most the keyspace's
   * `maxBatch` a call; a lone cold key still goes to {@link fetch}. Resolve a
   * Map from the keys asked to their values, or an array aligned with `keys`:
   * a key missing from the answer, `undefined` or `null` does not exist. A Map
   * holding a key that was not asked (a number where the key was a string,
   * say), or an array of another length, fails the whole call. `signal` fires
   * on the keyspace's `readTimeout`, as for `fetch`.
   */
  fetchMany?(
    keys: readonly string[],
    context: { signal: AbortSignal },
  ): Promise<FetchManyAnswer<V>> | FetchManyAnswer<V>;
}

/** What `fetchMany` resolves: values by key, or values in the order of the keys asked. */
export type FetchManyAnswer<V> = ReadonlyMap<string, V | null | undefined> | readonly (V | null | undefined)[];

/** Where a breaker stands: `closed` lets calls through, `open` refuses them, `half-open` lets one probe through. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** What `get` resolves for a key that exists. */
export interface GetResult<V = Uint8Array> {
  readonly key: string;
  /** The value. Bytes returned by a keyspace without a codec are the cached copy: treat them as read-only. */
  readonly value: V;
  /**
   * Present and true when the value has expired: served at once while it
   * reloads (`staleWhileRevalidate`), or because reloading it failed (`staleIfError`).
   */
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
  /** Data-source calls made (`fetch`, or `fetchMany` for a batch of keys). */
  readonly loads: number;
  /** Data-source calls that failed, and values of a `fetchMany` answer that could not be stored. */
  readonly loadErrors: number;
  /** Loads refused before the data source by the rate limiter or the open breaker. */
  readonly rejectedLoads: number;
  /** Expired values served: while reloading them (`staleWhileRevalidate`), or because reloading failed (`staleIfError`). */
  readonly staleServed: number;
  /** Reloads started in the background, without a caller waiting: by `refreshAhead` and `staleWhileRevalidate`. */
  readonly backgroundReloads: number;
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

/** A raw read: the stored bytes (null = does not exist), their expiry (epoch ms, 0 = never), and whether they are stale (expired). */
export interface ReadResult {
  readonly value: Uint8Array | null;
  readonly expiresAt: number;
  readonly stale?: boolean;
}
