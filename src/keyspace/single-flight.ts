/** A call in progress, shared by every caller of the same key. */
export interface Flight<T> {
  readonly promise: Promise<T>;
  /** Set when a write to the key happened during the call: its result must not be stored. */
  readonly superseded: boolean;
}

interface MutableFlight<T> {
  promise: Promise<T>;
  superseded: boolean;
}

/**
 * Collapses concurrent calls for the same key into one: while a call for a
 * key is in progress, later callers get the same promise (groupcache's
 * singleflight). A write to the key supersedes its call: the callers
 * already waiting still get its result, later callers start a new call.
 */
export class SingleFlight<T> {
  readonly #byKey = new Map<string, MutableFlight<T>>();
  readonly #running = new Set<Promise<T>>();

  /** Runs `fn` for `key` unless a call for `key` is already in progress, and shares its result. */
  do(key: string, fn: (flight: Flight<T>) => Promise<T>): Promise<T> {
    const existing = this.#byKey.get(key);
    if (existing !== undefined) return existing.promise;
    const flight: MutableFlight<T> = { promise: undefined as unknown as Promise<T>, superseded: false };
    const promise = fn(flight);
    flight.promise = promise;
    const done = (): void => {
      this.#running.delete(promise);
      if (this.#byKey.get(key) === flight) this.#byKey.delete(key);
    };
    promise.then(done, done);
    this.#byKey.set(key, flight);
    this.#running.add(promise);
    return promise;
  }

  /** Marks the call in progress for `key`, if any, as superseded by a write. */
  supersede(key: string): void {
    const flight = this.#byKey.get(key);
    if (flight === undefined) return;
    flight.superseded = true;
    this.#byKey.delete(key);
  }

  /** Marks every call in progress as superseded. */
  supersedeAll(): void {
    for (const flight of this.#byKey.values()) flight.superseded = true;
    this.#byKey.clear();
  }

  /** The promises of every call still running, superseded ones included. */
  running(): Promise<T>[] {
    return [...this.#running];
  }
}
