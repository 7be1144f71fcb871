import { createHash } from 'node:crypto';
import type { KeyspaceConfig } from '../keyspace/settings.js';

/**
 * A short digest of the keyspace definitions that must match across nodes
 * (names, sizes, expiry and freshness, codec and replication); nodes announce
 * it so mismatches show. How a node batches its loads (`maxBatch`, whether the
 * data source has `fetchMany`) changes no answer, so it is left out.
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
      ...freshness(d),
      // Only when async: a definition without it keeps its digest from before the option existed.
      ...(d.replication === 'async' ? ['async'] : []),
    ]);
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

/**
 * The freshness options, only when one is set: a definition that uses none
 * keeps the digest it had before they existed, so a rolling upgrade shows no
 * false mismatch.
 */
function freshness(d: KeyspaceConfig): number[] {
  return d.refreshAhead === 0 && d.staleWhileRevalidate === 0 && d.ttlJitter === 0
    ? []
    : [d.refreshAhead, d.staleWhileRevalidate, d.ttlJitter];
}
