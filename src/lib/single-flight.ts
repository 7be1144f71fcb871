/** A call in progress, shared by every caller of the same key. */
export interface Flight {
  /** Set when a write to the key happened during the call: its result must not be stored. */
  readonly superseded: boolean;
}

interface MutableFlight<T> {
  /** The shared call; undefined once it settled (the entry then only waits to be reused or compacted away). */
  promise: Promise<T> | undefined;
  superseded: boolean;
}

/** Below this many entries the table is never compacted. */
const COMPACT_AT = 4_096;

/**
 * Collapses concurrent calls for the same key into one: while a call for a
 * key is in progress, later callers get the same promise (groupcache's
 * singleflight). A write to the key supersedes its call: the callers
 * already waiting still get its result, later callers start a new call.
 *
 * A settled call's entry is marked done and overwritten by the key's next
 * call, not deleted: a long-lived Map with one insert and one delete per call
 * rebuilds its hash table every few dozen calls, and a discarded table that
 * reached the old generation keeps the young calls it points to alive
 * through young-generation GCs. Done entries are dropped in bulk once they
 * outnumber running ones three to one (the table holds four times as many
 * entries as calls running).
 */
export class SingleFlight<T> {
  #byKey = new Map<string, MutableFlight<T>>();
  /** Calls running in #byKey. */
  #running = 0;
  /** Calls still running after a write superseded them (no longer reachable by key). */
  readonly #superseded = new Set<Promise<T>>();

  /** Runs `fn` for `key` unless a call for `key` is already in progress, and shares its result. */
  do(key: string, fn: (flight: Flight) => Promise<T>): Promise<T> {
    const existing = this.#byKey.get(key);
    if (existing?.promise !== undefined) return existing.promise;
    const flight: MutableFlight<T> = { promise: undefined, superseded: false };
    const promise = fn(flight);
    flight.promise = promise;
    const done = (): void => this.#settled(flight, promise);
    promise.then(done, done);
    this.#byKey.set(key, flight);
    this.#running++;
    if (existing === undefined) this.#compactIfSparse();
    return promise;
  }

  /** Whether a call for `key` is in progress (one a write superseded no longer counts). */
  isRunning(key: string): boolean {
    return this.#byKey.get(key)?.promise !== undefined;
  }

  /** Marks the call in progress for `key`, if any, as superseded by a write. */
  supersede(key: string): void {
    const flight = this.#byKey.get(key);
    if (flight?.promise === undefined) return;
    this.#detach(flight, flight.promise);
    flight.promise = undefined; // the entry stays, done: the key's next call replaces it
  }

  /** Marks every call in progress as superseded. */
  supersedeAll(): void {
    for (const flight of this.#byKey.values()) if (flight.promise !== undefined) this.#detach(flight, flight.promise);
    this.#byKey = new Map();
  }

  /** Entries in the key table, running and done: bounded, as done ones are compacted away. */
  get tableSize(): number {
    return this.#byKey.size;
  }

  /** The promises of every call still running, superseded ones included. */
  running(): Promise<T>[] {
    const running = [...this.#superseded];
    for (const flight of this.#byKey.values()) if (flight.promise !== undefined) running.push(flight.promise);
    return running;
  }

  #settled(flight: MutableFlight<T>, promise: Promise<T>): void {
    if (flight.superseded) {
      this.#superseded.delete(promise);
      return;
    }
    flight.promise = undefined;
    this.#running--;
  }

  #detach(flight: MutableFlight<T>, promise: Promise<T>): void {
    flight.superseded = true;
    this.#running--;
    this.#superseded.add(promise);
  }

  /** Rebuilds the table with the running calls only, once done entries dominate it. */
  #compactIfSparse(): void {
    if (this.#byKey.size < COMPACT_AT || this.#byKey.size < 4 * this.#running) return;
    const compacted = new Map<string, MutableFlight<T>>();
    for (const [key, flight] of this.#byKey) if (flight.promise !== undefined) compacted.set(key, flight);
    this.#byKey = compacted;
  }
}
