/**
 * Versioned copies of one key, and which of two copies wins where they
 * meet (a handoff, a sync, a peek). A leaf module: it imports nothing.
 */

/**
 * The value a deleted key holds in a cluster: a marker that reads as a miss,
 * kept (for a bounded time) so that an older copy of the key arriving from
 * another node cannot bring it back. Compared by identity; never handed to a caller.
 */
/**
 * The version of a write nobody stamped (an invalidation from a node that
 * speaks no entry versions): above every real version, and still a safe
 * integer, so it crosses the wire like one.
 */
export const UNKNOWN_VERSION = Number.MAX_SAFE_INTEGER;

export const TOMBSTONE: Uint8Array = Object.freeze(new Uint8Array(0)) as Uint8Array;

/** One node's copy of a key: the bytes (null = a cached "does not exist", {@link TOMBSTONE} = deleted), expiry and version. */
export interface VersionedCopy {
  readonly value: Uint8Array | null;
  /** Epoch ms, 0 = never. */
  readonly expiresAt: number;
  /** The hybrid logical clock's stamp of the write (or the load) that made the copy. */
  readonly version: number;
}

/**
 * Whether copy `a` wins over copy `b`: the higher version, and for equal
 * versions (two nodes stamped the same instant) an order on the content
 * itself, so every node picks the same winner without knowing who wrote
 * which: a delete before a value before a "does not exist", then the bytes,
 * then the later expiry. Equal copies do not win over each other.
 */
export function isNewerCopy(a: VersionedCopy, b: VersionedCopy): boolean {
  if (a.version !== b.version) return a.version > b.version;
  const kinds = kindRank(a) - kindRank(b);
  if (kinds !== 0) return kinds > 0;
  if (a.value !== null && b.value !== null) {
    const bytes = Buffer.compare(a.value, b.value);
    if (bytes !== 0) return bytes > 0;
  }
  return expiryRank(a.expiresAt) > expiryRank(b.expiresAt);
}

function kindRank(copy: VersionedCopy): number {
  return copy.value === TOMBSTONE ? 2 : copy.value === null ? 0 : 1;
}

/** Never expiring ranks above any time. */
function expiryRank(expiresAt: number): number {
  return expiresAt === 0 ? Infinity : expiresAt;
}

/** Whether a copy is already expired at `now` (it is then worth nothing to anyone). */
export function isExpiredCopy(copy: VersionedCopy, now: number): boolean {
  return copy.expiresAt !== 0 && copy.expiresAt <= now;
}
