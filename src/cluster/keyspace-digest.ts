import { createHash } from 'node:crypto';
import type { KeyspaceConfig } from '../keyspace/settings.js';

/**
 * A short digest of the keyspace definitions that must match across nodes
 * (names, sizes, expiry, codec and replication); nodes announce it so mismatches show.
 */
export function keyspaceDigest(definitions: readonly KeyspaceConfig[]): string {
  const shape = [...definitions]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((d) => [
      d.name,
      d.maxBytes,
      d.defaultTtl,
      d.negativeTtl,
      d.staleIfError,
      d.codec?.name ?? 'bytes',
      d.dataSource !== undefined,
      d.replicaCount,
      d.replicaReads,
    ]);
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
