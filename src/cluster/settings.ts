import type { Hasher } from './hasher.js';
import type { FailureDetection } from './membership.js';
import type { PeerTlsOptions } from './peer-server.js';

/** The cluster settings with every default applied (by the engine's config): what the cluster reads. */
export interface ClusterConfig {
  readonly bindAddr: string;
  readonly bindPort: number;
  readonly discoveryPort: number;
  readonly minimumPeersQuorum: number;
  readonly bootstrapTimeout: number;
  readonly joinRetryInterval: number;
  readonly maxJoinAttempts: number;
  readonly clusterKey: string | undefined;
  readonly tls: PeerTlsOptions | undefined;
  readonly hasher: Hasher | undefined;
  readonly membership: FailureDetection;
}

/**
 * How long a deleted key's tombstone is kept on its owners (10 minutes): an
 * older copy of the key that meets it within that time (a node that was
 * frozen, the other side of a partition) cannot bring the key back.
 * Tombstones count in a keyspace's maxBytes like entries (key + overhead).
 */
export const TOMBSTONE_TTL_MS = 10 * 60_000;
