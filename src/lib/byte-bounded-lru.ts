/**
 * Fixed bookkeeping cost charged to every entry on top of its key and value
 * bytes: the entry object, its map slot and the typed array header. Measured
 * with bench/local.ts (heap per entry) and rounded up, so `bytes` tracks the
 * real memory a store holds (the version of each entry is a heap number).
 */
export const ENTRY_OVERHEAD_BYTES = 312;

/** One stored entry. `value` is null for a cached "does not exist" answer. */
export interface StoreEntry {
  readonly key: string;
  readonly value: Uint8Array | null;
  /** Epoch ms after which the entry is a miss; 0 = never expires. */
  readonly expiresAt: number;
  /** Epoch ms from which a read should reload the entry ahead of its expiry; 0 = never. */
  readonly refreshAt: number;
  /** The owner's ordering of copies of this key (the store does not read it); 0 when unversioned. */
  readonly version: number;
}

class Node implements StoreEntry {
  prev: Node = this;
  next: Node = this;
  constructor(
    readonly key: string,
    readonly value: Uint8Array | null,
    readonly expiresAt: number,
    readonly refreshAt: number,
    readonly cost: number,
    readonly version: number,
  ) {}
}

/** The bytes an entry of this key and value is charged. */
export function entryCost(key: string, value: Uint8Array | null): number {
  return Buffer.byteLength(key, 'utf8') + (value === null ? 0 : value.byteLength) + ENTRY_OVERHEAD_BYTES;
}

/**
 * A least-recently-used map of byte values whose total cost (key bytes +
 * value bytes + {@link ENTRY_OVERHEAD_BYTES} per entry) never exceeds
 * `maxBytes`. Entries carry an expiry; an expired entry is a miss, and is
 * kept for `retainExpiredMs` after expiry (for stale-if-error) unless space
 * is needed. The store owns the arrays it is given: callers pass copies.
 */
export class ByteBoundedLru {
  readonly #map = new Map<string, Node>();
  /** Sentinel of the circular recency list: `head.next` is the most recent. */
  readonly #head = new Node('', null, 0, 0, 0, 0);
  #bytes = 0;
  #evictions = 0;
  #maxBytes: number;
  readonly #retainExpiredMs: number;

  /**
   * @param maxBytes - the most bytes the entries may cost together.
   * @param retainExpiredMs - how long an expired entry stays readable through {@link peek} (0 = dropped on first miss).
   */
  constructor(maxBytes: number, retainExpiredMs = 0) {
    this.#maxBytes = maxBytes;
    this.#retainExpiredMs = retainExpiredMs;
  }

  /** The fresh entry for `key`, marked most recently used; undefined on a miss or when expired. */
  get(key: string, now: number): StoreEntry | undefined {
    const node = this.#map.get(key);
    if (node === undefined) return undefined;
    if (node.expiresAt !== 0 && node.expiresAt <= now) {
      if (now - node.expiresAt >= this.#retainExpiredMs) this.#remove(node);
      return undefined;
    }
    if (this.#head.next !== node) {
      this.#unlink(node);
      this.#linkFirst(node);
    }
    return node;
  }

  /** The entry for `key` even if expired, without touching recency; for stale-if-error. */
  peek(key: string): StoreEntry | undefined {
    return this.#map.get(key);
  }

  /**
   * Stores an entry, evicting least recently used entries until it fits.
   * Returns false, storing nothing, when the entry alone costs more than maxBytes.
   */
  set(key: string, value: Uint8Array | null, expiresAt: number, version = 0, refreshAt = 0): boolean {
    const cost = entryCost(key, value);
    const old = this.#map.get(key);
    if (old !== undefined) this.#remove(old);
    if (cost > this.#maxBytes) return false;
    this.#evictUntilFits(cost);
    const node = new Node(key, value, expiresAt, refreshAt, cost, version);
    this.#map.set(key, node);
    this.#linkFirst(node);
    this.#bytes += cost;
    return true;
  }

  /** Removes `key`; true when it was present. */
  delete(key: string): boolean {
    const node = this.#map.get(key);
    if (node === undefined) return false;
    this.#remove(node);
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.#map.clear();
    this.#head.next = this.#head.prev = this.#head;
    this.#bytes = 0;
  }

  /** The keys held, most recently used first. */
  keys(): string[] {
    const keys: string[] = [];
    for (let node = this.#head.next; node !== this.#head; node = node.next) keys.push(node.key);
    return keys;
  }

  /** Number of entries held, expired ones included until they are dropped. */
  get size(): number {
    return this.#map.size;
  }

  /** Total cost of the entries held; never more than {@link maxBytes}. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The byte budget. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Entries removed to make room since the store was created. */
  get evictions(): number {
    return this.#evictions;
  }

  #evictUntilFits(cost: number): void {
    const head = this.#head;
    while (this.#bytes + cost > this.#maxBytes && head.prev !== head) {
      this.#remove(head.prev);
      this.#evictions++;
    }
  }

  #remove(node: Node): void {
    this.#unlink(node);
    this.#map.delete(node.key);
    this.#bytes -= node.cost;
  }

  #unlink(node: Node): void {
    node.prev.next = node.next;
    node.next.prev = node.prev;
  }

  #linkFirst(node: Node): void {
    const head = this.#head;
    node.prev = head;
    node.next = head.next;
    head.next.prev = node;
    head.next = node;
  }
}
