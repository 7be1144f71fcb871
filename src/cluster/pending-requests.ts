/** A request waiting for its reply. */
export interface Pending<T> {
  readonly requestId: number;
  resolve(reply: T): void;
  reject(error: unknown): void;
  /** performance.now() after which the request fails with ERR_TIMEOUT. */
  readonly deadline: number;
  readonly timeoutMs: number;
}

/**
 * The requests of one connection waiting for replies, in a fixed table of
 * slots indexed by request id. A Map would do the same job, but with one
 * insert and one delete per request its hash table is rebuilt every few
 * dozen requests, and a discarded table that reached the old generation
 * keeps the young requests it points to alive through young-generation GCs.
 * A slot is cleared when its request settles, so nothing stale keeps
 * anything alive.
 */
export class PendingRequests<T> {
  readonly #slots: (Pending<T> | undefined)[];
  readonly #mask: number;
  #nextId = 1;
  #size = 0;

  /** @param capacity - requests that may wait at once; a power of two. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(Math.log2(capacity)))
      throw new RangeError(`capacity must be a power of two, got ${capacity}`);
    this.#slots = new Array<Pending<T> | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** A request id (1..2^32-1) whose slot is free, or undefined when every slot is taken. */
  nextId(): number | undefined {
    if (this.#size >= this.capacity) return undefined;
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id >= 0xffffffff ? 1 : id + 1;
      if (this.#slots[id & this.#mask] === undefined) return id;
    }
  }

  /** Stores a request under its id (from {@link nextId}). */
  add(pending: Pending<T>): void {
    this.#slots[pending.requestId & this.#mask] = pending;
    this.#size++;
  }

  /** Removes and returns the request of `requestId`, or undefined (answered after its timeout, or unknown). */
  take(requestId: number): Pending<T> | undefined {
    const slot = requestId & this.#mask;
    const pending = this.#slots[slot];
    if (pending === undefined || pending.requestId !== requestId) return undefined;
    this.#slots[slot] = undefined;
    this.#size--;
    return pending;
  }

  /** Removes and returns the requests whose deadline passed by `now`. */
  takeExpired(now: number): Pending<T>[] {
    const expired: Pending<T>[] = [];
    if (this.#size === 0) return expired;
    for (let slot = 0; slot < this.#slots.length; slot++) {
      const pending = this.#slots[slot];
      if (pending === undefined || pending.deadline > now) continue;
      this.#slots[slot] = undefined;
      this.#size--;
      expired.push(pending);
    }
    return expired;
  }

  /** Removes and returns every request. */
  takeAll(): Pending<T>[] {
    return this.takeExpired(Infinity);
  }
}
