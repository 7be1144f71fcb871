import { HOT_TTL_MS } from './hot-cache.js';

/** Most (key, node) pairs remembered; past it, writes invalidate everyone until the forgotten copies have expired. */
const MAX_PAIRS = 131_072;
/**
 * Most keys remembered as already told to everyone while this node cannot
 * keep track; past it, the oldest is forgotten, and its next write tells
 * everyone once more.
 */
const MAX_TOLD_EVERYONE = 65_536;
/**
 * How long a node is remembered as holding a copy after its request came in:
 * the hot-copy lifetime, counted by the reader from when it sent the request,
 * plus room for timers that fire late.
 */
const HOLD_MS = HOT_TTL_MS + 1_000;
const SWEEP_INTERVAL_MS = 1_000;

/** Who may hold a copy of a key: these nodes, or anyone (this node could not keep track). */
export type Holders = readonly string[] | 'everyone';

/**
 * The nodes this node answered a read of each key within the hot-copy
 * lifetime: they may hold a hot copy of it, so a write must invalidate them,
 * and only them. Bounded: past {@link MAX_PAIRS} pairs, or for a reader it
 * cannot name, it stops keeping track and answers `everyone` until every
 * copy it may have missed has expired.
 *
 * `everyone` is taken once per key, like a pair: telling every member drops
 * every copy of the key this node handed out so far, so until it answers
 * another read of the key that it cannot record, a further write of the key
 * needs only the named readers. Without that, each node that receives an
 * invalidation passes it on to every member again, and one write becomes a
 * storm that lasts the whole window.
 */
export class CopyHolders {
  /** `keyspace \0 key` → node id → when its copy has surely expired. */
  readonly #holders = new Map<string, Map<string, number>>();
  #pairs = 0;
  /** Until then, some copy went unrecorded. */
  #incompleteUntil = 0;
  #nextSweepAt = 0;
  /** Keys whose every copy was invalidated on every member since this node last answered a read of them it did not record. */
  readonly #toldEveryone = new Set<string>();
  readonly #maxPairs: number;
  readonly #maxToldEveryone: number;

  constructor(maxPairs = MAX_PAIRS, maxToldEveryone = MAX_TOLD_EVERYONE) {
    this.#maxPairs = maxPairs;
    this.#maxToldEveryone = maxToldEveryone;
  }

  /** Node(s) `readers` asked for `key` at `now`; an empty list means a reader this node cannot name. */
  record(keyspace: string, key: string, readers: readonly string[], now: number): void {
    const id = holderKey(keyspace, key);
    if (readers.length === 0) return this.#lostTrack(id, now);
    let holders = this.#holders.get(id);
    for (const reader of readers) {
      const known = holders?.has(reader) === true;
      if (!known && this.#pairs >= this.#maxPairs && !this.#roomAfterSweep(now)) return this.#lostTrack(id, now);
      if (holders === undefined) this.#holders.set(id, (holders = new Map()));
      if (!known) this.#pairs++;
      holders.set(reader, now + HOLD_MS);
    }
  }

  /**
   * The nodes that may hold a copy of `key`, forgotten as they are returned
   * (the caller invalidates them): `everyone` while this node cannot keep
   * track, but once per key until it answers a read of the key it does not
   * record.
   */
  take(keyspace: string, key: string, now: number): Holders {
    const id = holderKey(keyspace, key);
    const holders = this.#holders.get(id);
    if (holders !== undefined) {
      this.#holders.delete(id);
      this.#pairs -= holders.size;
    }
    if (now < this.#incompleteUntil) {
      if (!this.#toldEveryone.has(id)) return this.#tellEveryone(id);
    } else if (this.#toldEveryone.size > 0) {
      this.#toldEveryone.clear();
    }
    if (holders === undefined) return NONE;
    const live: string[] = [];
    for (const [reader, until] of holders) if (until > now) live.push(reader);
    return live;
  }

  /** Forgets a dropped keyspace. */
  dropKeyspace(keyspace: string): void {
    const prefix = holderKey(keyspace, '');
    for (const [id, holders] of this.#holders) {
      if (!id.startsWith(prefix)) continue;
      this.#holders.delete(id);
      this.#pairs -= holders.size;
    }
    for (const id of this.#toldEveryone) if (id.startsWith(prefix)) this.#toldEveryone.delete(id);
  }

  /** Pairs remembered now. */
  get size(): number {
    return this.#pairs;
  }

  /** A copy of the key `id` went unrecorded: until it surely expired, writes of any key tell everyone, and the next of this key does. */
  #lostTrack(id: string, now: number): void {
    this.#incompleteUntil = now + HOLD_MS;
    this.#toldEveryone.delete(id);
  }

  #tellEveryone(id: string): 'everyone' {
    if (this.#toldEveryone.size >= this.#maxToldEveryone)
      this.#toldEveryone.delete(this.#toldEveryone.values().next().value!);
    this.#toldEveryone.add(id);
    return 'everyone';
  }

  /** Whether forgetting expired pairs made room; sweeps at most once a second, so a full table costs no sweep per read. */
  #roomAfterSweep(now: number): boolean {
    if (now < this.#nextSweepAt) return false;
    this.#nextSweepAt = now + SWEEP_INTERVAL_MS;
    return this.#sweep(now) < this.#maxPairs;
  }

  /** Forgets expired pairs; returns how many are left. */
  #sweep(now: number): number {
    for (const [id, holders] of this.#holders) {
      for (const [reader, until] of holders) {
        if (until > now) continue;
        holders.delete(reader);
        this.#pairs--;
      }
      if (holders.size === 0) this.#holders.delete(id);
    }
    return this.#pairs;
  }
}

const NONE: readonly string[] = Object.freeze([]);

function holderKey(keyspace: string, key: string): string {
  return `${keyspace}\u0000${key}`;
}
