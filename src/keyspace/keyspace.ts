import { waitFor } from '../abort.js';
import { DistCacheError, ErrorCode, isDistCacheError } from '../errors.js';
import { ByteBoundedLru, entryCost } from '../lib/byte-bounded-lru.js';
import { HybridLogicalClock } from '../lib/hybrid-logical-clock.js';
import { SingleFlight, type Flight } from '../lib/single-flight.js';
import type { Logger } from '../logger.js';
import { toExpiresAt, toStoredBytes, validateKey } from './entry-input.js';
import { Loader } from './loader.js';
import type { KeyspaceObserver } from './observer.js';
import type { KeyspaceConfig } from './settings.js';
import type { BreakerState, GetResult, KeyspaceStats, PreparedPut, PutEntry, ReadResult } from './types.js';
import { TOMBSTONE, isExpiredCopy, isNewerCopy, type VersionedCopy } from './versions.js';

/** How a keyspace versions its entries: one clock per node, and how long deletes are remembered. */
export interface KeyspaceVersioning {
  /** Stamps every write and orders copies across nodes; one per node, shared by its keyspaces. */
  readonly clock: HybridLogicalClock;
  /**
   * How long a deleted key keeps a tombstone (ms), so that an older copy of it
   * arriving from another node cannot bring it back; 0 = deletes leave none
   * (a standalone node, where no other copy exists).
   */
  readonly tombstoneTtl: number;
}

const STANDALONE: KeyspaceVersioning = { clock: new HybridLogicalClock(), tombstoneTtl: 0 };

/**
 * One keyspace on this node: its store, its loader and its
 * counters. The read path is {@link get}: store → single-flight → loader → store.
 *
 * Every entry carries a version. Writes (puts, deletes) are stamped by the
 * node's hybrid logical clock and always apply; copies from other nodes
 * ({@link merge}) apply only when newer than what is held. A load is not
 * stamped by the clock: the data source does not see puts, so a loaded
 * value ranks just above the entry it replaced (an expired one or a
 * tombstone) and below any later put held elsewhere.
 *
 * A hit past its refresh time (`refreshAhead`), or an expired entry served
 * stale (`staleWhileRevalidate`), also starts one reload in the background.
 */
export class Keyspace {
  readonly config: KeyspaceConfig;
  /** The keyspace's name (`config.name`). */
  readonly name: string;
  /** Engine gets answered at once, found and not found; counted by the engine for its metrics (here: no lookup on the hot path). */
  immediateHits = 0;
  immediateNotFound = 0;
  readonly #store: ByteBoundedLru;
  readonly #loader: Loader | undefined;
  readonly #flights = new SingleFlight<ReadResult>();
  readonly #logger: Logger;
  readonly #observer: KeyspaceObserver;
  readonly #clock: HybridLogicalClock;
  readonly #tombstoneTtl: number;
  #hits = 0;
  #misses = 0;
  #staleServed = 0;
  #backgroundReloads = 0;
  /** `staleWhileRevalidate`, or 0 without a data source (nothing could revalidate). */
  readonly #staleWhileRevalidate: number;
  #closed = false;

  constructor(
    config: KeyspaceConfig,
    logger: Logger,
    observer: KeyspaceObserver,
    versioning: KeyspaceVersioning = STANDALONE,
  ) {
    this.config = config;
    this.name = config.name;
    this.#logger = logger;
    this.#observer = observer;
    this.#clock = versioning.clock;
    this.#tombstoneTtl = versioning.tombstoneTtl;
    this.#store = new ByteBoundedLru(config.maxBytes, Math.max(config.staleIfError, config.staleWhileRevalidate));
    this.#loader =
      config.dataSource && new Loader(config, config.dataSource, (state) => this.#onBreaker(state), observer);
    this.#staleWhileRevalidate = this.#loader === undefined ? 0 : config.staleWhileRevalidate;
  }

  /**
   * Reads `key` as this node's own: a fresh stored entry, else one shared load
   * from the data source. Returns synchronously on a hit (no promise to
   * allocate), a promise otherwise. Without a data source a miss is `undefined`.
   */
  get(
    key: string,
    signal: AbortSignal | undefined,
  ): GetResult<unknown> | undefined | Promise<GetResult<unknown> | undefined> {
    const entry = this.#lookup(key);
    if (entry !== undefined) return this.toResult(key, entry);
    return this.#load(key, signal)?.then((loaded) => this.toResult(key, loaded));
  }

  /** {@link get} before decoding: the raw bytes and their expiry, as a peer asking the owner receives them. */
  read(key: string, signal: AbortSignal | undefined): ReadResult | undefined | Promise<ReadResult | undefined> {
    return this.#lookup(key) ?? this.#load(key, signal);
  }

  /**
   * {@link read} without loading: a fresh stored entry, counted as a hit, or
   * undefined, not counted. For a replica that answers from its own copy and
   * otherwise asks the owner. (The store's `peek`, by contrast, also returns
   * expired entries and counts nothing.)
   */
  readCached(key: string): ReadResult | undefined {
    const entry = this.#store.get(key, Date.now());
    if (entry === undefined || entry.value === TOMBSTONE) return undefined;
    this.#hits++;
    return entry;
  }

  /**
   * A fresh stored entry (counted as a hit); else, within
   * `staleWhileRevalidate` of its expiry, the expired entry marked stale (a
   * miss); else undefined (a miss). A hit past its refresh time and a stale
   * answer each start a background reload.
   */
  #lookup(key: string): ReadResult | undefined {
    validateKey(key);
    const now = Date.now();
    const entry = this.#store.get(key, now);
    if (entry !== undefined && entry.value !== TOMBSTONE) {
      this.#hits++;
      if (entry.refreshAt !== 0 && entry.refreshAt <= now) this.#reloadInBackground(key);
      return entry;
    }
    this.#misses++;
    return this.#staleWhileRevalidate === 0 ? undefined : this.#revalidating(key, now);
  }

  /** The expired value of `key` while within `staleWhileRevalidate`, marked stale, with a reload started. */
  #revalidating(key: string, now: number): ReadResult | undefined {
    const entry = this.#store.peek(key);
    if (entry === undefined || entry.value === null || entry.value === TOMBSTONE || entry.expiresAt === 0)
      return undefined;
    if (now - entry.expiresAt >= this.#staleWhileRevalidate) return undefined;
    this.#staleServed++;
    this.#reloadInBackground(key);
    return { value: entry.value, expiresAt: entry.expiresAt, stale: true };
  }

  /**
   * Starts one reload of `key` that no caller waits for, unless one is running
   * (single-flight). A failed one changes nothing stored: the cached value
   * stays until it expires.
   */
  #reloadInBackground(key: string): void {
    if (this.#closed || this.#flights.isRunning(key)) return;
    this.#backgroundReloads++;
    this.#flights
      .do(key, (flight) => this.#loadAndStore(key, flight))
      .catch((error: unknown) =>
        this.#logger.debug(
          { keyspace: this.name, key, code: isDistCacheError(error) ? error.code : undefined },
          'background reload failed; the cached value stays until it expires',
        ),
      );
  }

  /** The shared load of a missing key; undefined without a data source. */
  #load(key: string, signal: AbortSignal | undefined): Promise<ReadResult> | undefined {
    if (this.#loader === undefined) return undefined;
    return waitFor(
      this.#flights.do(key, (flight) => this.#loadAndStore(key, flight)),
      signal,
    );
  }

  /** Whether a fresh entry for `key` is stored (a cached "does not exist" too), without counting a hit or a miss. */
  has(key: string): boolean {
    return this.#fresh(key) !== undefined;
  }

  /** Whether a fresh value for `key` is stored: what an `ifAbsent` put finds taken. A cached "does not exist" is not a value. */
  holdsValue(key: string): boolean {
    return (this.#fresh(key)?.value ?? null) !== null;
  }

  #fresh(key: string): ReadResult | undefined {
    const entry = this.#store.peek(key);
    return entry !== undefined && entry.value !== TOMBSTONE && !isExpiredCopy(entry, Date.now()) ? entry : undefined;
  }

  /** The caller's view of a raw read: decoded by the codec, `undefined` for "does not exist". */
  toResult(key: string, read: ReadResult | undefined): GetResult<unknown> | undefined {
    if (read === undefined || read.value === null) return undefined;
    const value = this.config.codec === undefined ? read.value : this.config.codec.decode(read.value);
    return read.stale ? { key, value, stale: true } : { key, value };
  }

  /**
   * Validates and encodes an entry without writing it; throws
   * ERR_INVALID_ARGUMENT for a bad one, an unknown field, or a value the
   * keyspace could not hold (larger than its maxBytes with its key and overhead).
   */
  preparePut(entry: PutEntry<unknown>): PreparedPut {
    if (typeof entry !== 'object' || entry === null) {
      throw new DistCacheError(
        ErrorCode.INVALID_ARGUMENT,
        'put expects an entry object { key, value, ttl?, expiresAt? }',
      );
    }
    checkEntryFields(entry);
    const { key, value, ttl, expiresAt } = entry;
    validateKey(key);
    if (ttl !== undefined && expiresAt !== undefined) {
      throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, `put "${key}": give ttl or expiresAt, not both`);
    }
    if (ttl !== undefined && !(Number.isSafeInteger(ttl) && ttl >= 0)) {
      throw new DistCacheError(
        ErrorCode.INVALID_ARGUMENT,
        `put "${key}": ttl must be a non-negative integer of ms, got ${String(ttl)}`,
      );
    }
    const bytes = toStoredBytes(value, this.config.codec, this.config.name);
    this.#requireRoom(key, bytes);
    const now = Date.now();
    const expiry = ttl !== undefined ? toExpiresAt(undefined, ttl, now, 'ttl') : this.#expiryFor(key, expiresAt, now);
    return { key, bytes, expiry };
  }

  /**
   * Writes an entry made by {@link preparePut}, replacing any stored value and
   * superseding a load in progress for the key; with `ifAbsent`, writes nothing
   * and returns false when a fresh value is stored. An entry already expired
   * removes the key instead. Throws ERR_INVALID_ARGUMENT, writing nothing, for
   * a value larger than the keyspace (another node's definition may be larger).
   * The entry's version is newer than `atLeast` (the writer's stamp) and than
   * anything this node has seen: a write always applies here, whatever the
   * writer's clock said.
   */
  commitPut({ key, bytes, expiry }: PreparedPut, ifAbsent = false, atLeast = 0): boolean {
    this.#requireRoom(key, bytes);
    if (ifAbsent && this.holdsValue(key)) return false;
    this.#flights.supersede(key);
    const version = this.#clock.next(atLeast);
    if (expiry !== 0 && expiry <= Date.now()) {
      this.#bury(key, version);
      return true;
    }
    this.#store.set(key, bytes, expiry, version);
    return true;
  }

  /** Throws ERR_INVALID_ARGUMENT when an entry of this key and value could never fit in the keyspace. */
  #requireRoom(key: string, bytes: Uint8Array): void {
    const cost = entryCost(key, bytes);
    if (cost <= this.config.maxBytes) return;
    throw new DistCacheError(
      ErrorCode.INVALID_ARGUMENT,
      `put "${key}": the value of ${bytes.byteLength} bytes exceeds keyspace "${this.config.name}" ` +
        `(maxBytes ${this.config.maxBytes}; the entry would cost ${cost} with its key and overhead)`,
    );
  }

  /** Removes `key`, leaving a tombstone newer than `atLeast` (see {@link commitPut}); true when an entry was held. */
  delete(key: string, atLeast = 0): boolean {
    validateKey(key);
    this.#flights.supersede(key);
    const held = this.#store.peek(key);
    this.#bury(key, this.#clock.next(atLeast));
    return held !== undefined && held.value !== TOMBSTONE;
  }

  /** Drops `key` without a trace (no tombstone): for a copy this node no longer owns. */
  discard(key: string): void {
    this.#store.delete(key);
  }

  /** This node's copy of `key` as it is (a tombstone or expired too), or undefined; counts nothing. */
  copyOf(key: string): VersionedCopy | undefined {
    return this.#store.peek(key);
  }

  /**
   * Applies a copy of `key` from another node when it is newer than the one
   * held (see {@link isNewerCopy}) and not expired; returns whether it did.
   * A load in progress for the key then returns the copy to its callers.
   * A newer copy that is expired removes the older entry held (a tombstone of
   * its version), as the write would have here.
   */
  merge(key: string, copy: VersionedCopy): boolean {
    this.#clock.observe(copy.version);
    const held = this.#store.peek(key);
    if (held !== undefined && !isNewerCopy(copy, held)) return false;
    if (isExpiredCopy(copy, Date.now())) {
      // A newer write that expired on its way (an async copy, a slow handoff) still ends the older value held here.
      if (held === undefined || held.value === TOMBSTONE) return false;
      this.#flights.supersede(key);
      this.#bury(key, copy.version);
      return true;
    }
    if (copy.value === TOMBSTONE) {
      this.#flights.supersede(key); // as a local delete does: a load that began before it must not be stored
      if (this.#tombstoneTtl === 0) {
        this.#store.delete(key);
        return true;
      }
    }
    this.#store.set(key, copy.value, copy.expiresAt, copy.version);
    return true;
  }

  /** Every key held, tombstones included, most recently used first. */
  keys(): string[] {
    return this.#store.keys();
  }

  /** Stores a tombstone for `key` (or, with no tombstone time, just removes it). */
  #bury(key: string, version: number): void {
    if (this.#tombstoneTtl === 0) this.#store.delete(key);
    else this.#store.set(key, TOMBSTONE, Date.now() + this.#tombstoneTtl, version);
  }

  /** Current counters and sizes. */
  stats(): KeyspaceStats {
    const loader = this.#loader;
    return {
      entries: this.#store.size,
      bytes: this.#store.bytes,
      maxBytes: this.#store.maxBytes,
      hits: this.#hits,
      misses: this.#misses,
      loads: loader?.counters.loads ?? 0,
      loadErrors: loader?.counters.loadErrors ?? 0,
      rejectedLoads: loader?.counters.rejectedLoads ?? 0,
      staleServed: this.#staleServed,
      backgroundReloads: this.#backgroundReloads,
      evictions: this.#store.evictions,
      breakerState: loader?.breakerState ?? 'disabled',
      limiterQueued: loader?.limiterQueued ?? 0,
    };
  }

  /** Drops every entry; loads in progress finish for their callers without storing. The keyspace keeps serving. */
  clear(): void {
    this.#flights.supersedeAll();
    this.#store.clear();
  }

  /** Loads in progress, for a graceful stop to wait on. */
  running(): Promise<unknown>[] {
    return this.#flights.running();
  }

  /** Drops every entry, lets loads in progress finish without storing, and stops the loader's timers. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flights.supersedeAll();
    this.#store.clear();
    await this.#loader?.stop();
  }

  async #loadAndStore(key: string, flight: Flight): Promise<ReadResult> {
    const held = this.#store.peek(key);
    let value: Uint8Array | null;
    try {
      value = await this.#loader!.load(key);
    } catch (error) {
      const stale = this.#staleFallback(key, error);
      if (stale !== undefined) return stale;
      throw error;
    }
    const now = Date.now();
    const expiresAt =
      value === null
        ? this.config.negativeTtl > 0
          ? now + this.#jittered(this.config.negativeTtl)
          : now
        : this.#expiryFor(key, undefined, now);
    if (flight.superseded || this.#closed) return { value, expiresAt };
    // A copy from another node that arrived during the load is what the cluster holds: it wins.
    // (The entry held when the load began is what a refresh ahead replaces.)
    const arrived = this.#fresh(key);
    if (arrived !== undefined && arrived !== held) return arrived;
    this.#storeLoaded(key, value, expiresAt, now);
    return { value, expiresAt };
  }

  /** Stores a loaded value one version above the entry it replaces (see the class comment). */
  #storeLoaded(key: string, value: Uint8Array | null, expiresAt: number, now: number): void {
    const replaced = this.#store.peek(key);
    if (expiresAt !== 0 && expiresAt <= now) {
      // "Does not exist", not to be cached: an expired value must not be served stale, a tombstone stays.
      if (replaced?.value !== TOMBSTONE) this.#store.delete(key);
      return;
    }
    const refreshAt =
      this.config.refreshAhead === 0 || expiresAt === 0
        ? 0
        : now + Math.floor((expiresAt - now) * this.config.refreshAhead);
    if (!this.#store.set(key, value, expiresAt, (replaced?.version ?? 0) + 1, refreshAt)) {
      this.#logger.debug(
        { keyspace: this.config.name, key, bytes: value?.byteLength },
        'loaded value larger than the keyspace; returned, not stored',
      );
    }
  }

  /** The expiry of an entry: the one given, else the keyspace's `expiresAt(key)`, else its `defaultTtl` (jittered). */
  #expiryFor(key: string, given: Date | number | undefined, now: number): number {
    if (given !== undefined) return toExpiresAt(given, 0, now, `put "${key}": expiresAt`);
    const fromKeyspace = this.config.expiresAt?.(key);
    return toExpiresAt(
      fromKeyspace,
      fromKeyspace === undefined ? this.#jittered(this.config.defaultTtl) : 0,
      now,
      `keyspace "${this.config.name}": expiresAt("${key}")`,
    );
  }

  /** A TTL the keyspace sets itself, spread by up to ±`ttlJitter` so keys loaded together expire apart. */
  #jittered(ttl: number): number {
    const jitter = this.config.ttlJitter;
    if (jitter === 0 || ttl === 0) return ttl;
    return Math.max(1, Math.round(ttl * (1 + jitter * (2 * Math.random() - 1))));
  }

  /** An expired value still within `staleIfError` of its expiry, to serve when a reload failed. */
  #staleFallback(key: string, error: unknown): ReadResult | undefined {
    if (this.config.staleIfError === 0 || !isDistCacheError(error)) return undefined;
    const entry = this.#store.peek(key);
    if (entry === undefined || entry.value === null || entry.value === TOMBSTONE || entry.expiresAt === 0)
      return undefined;
    if (Date.now() - entry.expiresAt >= this.config.staleIfError) return undefined;
    this.#staleServed++;
    this.#logger.debug(
      { keyspace: this.config.name, key, code: error.code },
      'reload failed; serving the expired value (staleIfError)',
    );
    return { value: entry.value, expiresAt: entry.expiresAt, stale: true };
  }

  #onBreaker(state: BreakerState): void {
    this.#observer.breakerTransition(this.config.name, state);
    const level = state === 'open' ? 'warn' : 'info';
    this.#logger[level]({ keyspace: this.config.name, breaker: state }, `data source circuit breaker ${state}`);
  }
}

const ENTRY_FIELDS: readonly string[] = ['key', 'value', 'ttl', 'expiresAt'];

/** Refuses a put entry with a field put does not know (a typo such as `expiresIn` would otherwise be ignored). */
function checkEntryFields(entry: object): void {
  for (const field in entry) {
    if (!ENTRY_FIELDS.includes(field))
      throw new DistCacheError(
        ErrorCode.INVALID_ARGUMENT,
        `put: unknown entry field ${JSON.stringify(field)}; an entry is { key, value, ttl?, expiresAt? }`,
      );
  }
}
