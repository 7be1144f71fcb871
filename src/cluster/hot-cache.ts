import { ByteBoundedLru } from '../lib/byte-bounded-lru.js';

/** Share of a keyspace's maxBytes a node spends on hot copies of keys other nodes own. */
const HOT_SHARE = 1 / 8;
/** Longest life of a hot copy: it bounds how stale a copy can be if an invalidation is lost. */
export const HOT_TTL_MS = 5_000;

/**
 * Copies of remote-owned entries this node read recently, one small LRU per
 * keyspace (1/8 of its maxBytes). The node that answered remembers the
 * reader for as long (CopyHolders), and a write of the key invalidates it;
 * their keys are the "hot keys" warmup prefetches when this node becomes
 * their owner.
 */
export class HotCache {
  readonly #stores = new Map<string, ByteBoundedLru>();

  /** A fresh hot copy, or undefined. */
  get(keyspaceName: string, key: string): { value: Uint8Array | null; expiresAt: number } | undefined {
    return this.#stores.get(keyspaceName)?.get(key, Date.now());
  }

  /**
   * Keeps a copy of a remote answer for at most {@link HOT_TTL_MS} from
   * `askedAt`, when the request left: the answering node remembers this one
   * as a holder for that long from when the request arrived, which is later.
   * The copy is exact: the answer's bytes may share a slab with other replies.
   */
  set(
    keyspaceName: string,
    maxBytes: number,
    key: string,
    value: Uint8Array | null,
    expiresAt: number,
    askedAt: number,
  ): void {
    const now = Date.now();
    const cap = askedAt + HOT_TTL_MS;
    if ((expiresAt !== 0 && expiresAt <= now) || cap <= now) return;
    let store = this.#stores.get(keyspaceName);
    if (store === undefined) {
      store = new ByteBoundedLru(Math.max(1, Math.floor(maxBytes * HOT_SHARE)));
      this.#stores.set(keyspaceName, store);
    }
    store.set(key, value === null ? null : value.slice(), expiresAt === 0 ? cap : Math.min(expiresAt, cap));
  }

  /** Drops the copy of one key. */
  delete(keyspaceName: string, key: string): void {
    this.#stores.get(keyspaceName)?.delete(key);
  }

  /** Drops every copy of a keyspace. */
  dropKeyspace(keyspaceName: string): void {
    this.#stores.delete(keyspaceName);
  }

  /** Drops every copy of every keyspace. */
  clear(): void {
    this.#stores.clear();
  }

  /** Keys with a copy in the keyspace `keyspaceName`. */
  keys(keyspaceName: string): string[] {
    return this.#stores.get(keyspaceName)?.keys() ?? [];
  }
}
