import type { Hasher } from './cluster/hasher.js';
import type { FailureDetection } from './cluster/membership.js';
import type { PeerTlsOptions } from './cluster/peer-server.js';
import type { DiscoveryProvider } from './discovery.js';
import type { Codec } from './keyspace/codecs.js';
import type { DataSource } from './keyspace/types.js';
import type { Logger } from './logger.js';

/**
 * The options applications pass, as documented in the README: the engine's,
 * a keyspace's, and the session listener's. Validation and defaults live in
 * config.ts.
 */

/** Circuit breaker options; time values in ms. */
export interface CircuitBreakerOptions {
  /** Consecutive failed loads that open the breaker. Default 5. */
  failureThreshold?: number;
  /** Time in ms the breaker stays open before one probe call is let through. Default 10000. */
  resetTimeout?: number;
}

/** Data-source rate limit options; time values in ms. */
export interface RateLimitOptions {
  /** Sustained data-source calls per second. Required. */
  requestsPerSecond: number;
  /** Calls allowed at once after a quiet period. Default: `requestsPerSecond` rounded up (one second's worth). */
  burst?: number;
  /** Longest wait in ms for a slot before ERR_DATASOURCE_RATE_LIMITED. Default 250. */
  waitTimeout?: number;
}

/** One keyspace: a named, byte-bounded cache in front of one data source. */
export interface KeyspaceOptions<V = Uint8Array> {
  /** Unique name: letters, digits, `.`, `_`, `-`; at most 128 characters. */
  name: string;
  /** Most bytes the keyspace's entries may cost (key + value + a fixed per-entry overhead). */
  maxBytes: number;
  /** Loads keys on a miss. Without one the keyspace is a plain cache: a miss resolves `undefined`. */
  dataSource?: DataSource<V>;
  /** Expiry of a key as a Date or epoch ms; wins over `defaultTtl`. Return `undefined` to use `defaultTtl`. */
  expiresAt?: (key: string) => Date | number | undefined;
  /** Time to live in ms of loaded and put entries; 0 = no expiry. Default: the engine's, else 0. */
  defaultTtl?: number;
  /** Timeout in ms of one data-source call. Default: the engine's, else 5000. */
  readTimeout?: number;
  /** Rate limit of data-source calls; `false` turns off the engine's default. Default: the engine's, else none. */
  rateLimit?: RateLimitOptions | false;
  /** Circuit breaker of data-source calls; `false` turns off the engine's default. Default: the engine's, else none. */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** Makes values typed: get/put and the data source use `V`, the store holds its encoding. Default: bytes. */
  codec?: Codec<V>;
  /** For how long in ms after expiry a value may still be served (marked `stale`) when reloading it fails. Default 0. */
  staleIfError?: number;
  /** Time in ms to remember that a key does not exist; 0 = ask the data source every time. Default 0. */
  negativeTtl?: number;
  /**
   * Most keys one `dataSource.fetchMany` call loads (1..10,000); more keys
   * asked at once are split into several calls. Each call counts once for the
   * rate limiter and the circuit breaker. Default 100.
   */
  maxBatch?: number;
  /**
   * Fraction of a loaded entry's time to live (0 < f < 1, e.g. 0.8) after which
   * a get still answers from the cache at once and also starts one reload in
   * the background (single-flight, rate limiter and breaker apply). A failed
   * reload leaves the cached value until it expires. Needs a data source and a
   * TTL. Default 0 (off).
   */
  refreshAhead?: number;
  /**
   * For how long in ms after expiry a get answers with the expired value at
   * once, marked `stale: true`, while one reload runs in the background. Unlike
   * `staleIfError`, which waits for the reload and serves the old value only
   * when it fails. Needs a data source. Default 0.
   */
  staleWhileRevalidate?: number;
  /**
   * Spreads each TTL the keyspace sets itself (`defaultTtl`, `negativeTtl`) by
   * a random amount of up to this fraction either way (0 <= f < 1; 0.1 = ±10%),
   * so keys loaded together do not all expire together. Expiries given by
   * `expiresAt(key)` or by a put's `ttl`/`expiresAt` stay exact. Default 0.
   */
  ttlJitter?: number;
  /** Timeout in ms of a put or delete sent to the key's owner nodes. Default: the engine's, else 5000. */
  writeTimeout?: number;
  /** Keys a node loads ahead of demand when it becomes their owner (at most 10,000). Default none. */
  warmKeys?: string[];
  /**
   * Whether nodes keep short-lived (≤ 5 s) copies of keys other nodes own and
   * they read (1/8 of maxBytes). Puts and deletes invalidate them everywhere;
   * turn off for strict read-after-write across nodes at the cost of a hop. Default true.
   */
  hotCache?: boolean;
  /** Nodes that hold each key of this keyspace (owner + replicas). Default: the engine's `replicaCount`. */
  replicaCount?: number;
  /**
   * A replica answers reads from its own copy instead of asking the owner
   * (one hop fewer), and refuses an `ifAbsent` put of a key that copy holds, as
   * a read there would find it; without a copy it still asks. Copies come from puts, so
   * use it for keyspaces written through the engine, like sessions. Default
   * false; true for the session listener's keyspace.
   */
  replicaReads?: boolean;
  /**
   * When a put or delete resolves. `'sync'`: once every copy is written
   * (`replicaCount` nodes, or as many as answer) and the nodes that may hold
   * hot copies dropped them. `'async'`: once one owner holds it: this node
   * when it is one of the key's `replicaCount` owners, else the first owner
   * that answers; an `ifAbsent` put is decided there (on this node's own
   * copy with `replicaReads`, and then every owner answers reads from its
   * own store, a miss included). The other copies and the invalidations follow
   * in the background, stamped with the write's version, and each owner
   * merges a copy only when it is newer than its own (the README's "Async
   * replication" names where copies can still differ); a read on another node may miss the write for
   * the time a copy takes to arrive, and an owner that cannot be reached gets
   * the copy only from a later handoff or sync. At most 4,096 writes' copies
   * are in flight per node; past it a write waits for room. Default `'sync'`.
   */
  replication?: 'sync' | 'async';
}

/** Options of an {@link Engine}. Time values are in milliseconds. */
export interface EngineOptions {
  /** How the node finds its peers. Default: {@link StandaloneDiscovery} (a cluster of one). */
  discovery?: DiscoveryProvider;
  /** The keyspaces this node serves. Every node of a cluster defines the same ones. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each keyspace has its own value type
  keyspaces: KeyspaceOptions<any>[];
  /** Default TTL in ms for keyspaces that set none; 0 = no expiry. Default 0. */
  defaultTtl?: number;
  /** Default data-source timeout in ms for keyspaces that set none. Default 5000. */
  readTimeout?: number;
  /** Default circuit breaker for keyspaces that set none. Default: none. */
  circuitBreaker?: CircuitBreakerOptions;
  /** Default data-source rate limit for keyspaces that set none. Default: none. */
  rateLimit?: RateLimitOptions;
  /** Longest time in ms `stop()` waits for loads in progress. Default 30000. */
  shutdownTimeout?: number;
  /** Where distcache logs; any pino-compatible logger. Default: pino at `warn` on stdout (`distcache serve`: `info`). */
  logger?: Logger;
  /** Default timeout in ms of puts and deletes sent to owner nodes. Default 5000. */
  writeTimeout?: number;
  /** Address the peer and discovery ports listen on. `0.0.0.0` advertises the first non-internal IPv4. Default `0.0.0.0`. */
  bindAddr?: string;
  /** Peer port: requests between nodes. Default 3320. */
  bindPort?: number;
  /** Discovery port: the libp2p host that carries membership and gossip. Default 3322. */
  discoveryPort?: number;
  /** Nodes that hold each key (owner + replicas), for keyspaces that do not set their own. Default 1. */
  replicaCount?: number;
  /** Members (this node included) that must be alive before `start()` resolves. Default 1. */
  minimumPeersQuorum?: number;
  /** Longest time in ms `start()` waits for the quorum before ERR_CLUSTER_QUORUM. Default 30000. */
  bootstrapTimeout?: number;
  /** Time in ms between join attempts (and between re-polls of discovery while running, x5). Default 1000. */
  joinRetryInterval?: number;
  /** Join attempts during `start()`. Default 10. */
  maxJoinAttempts?: number;
  /**
   * Pre-shared key of the cluster, the same on every node: a libp2p private network on the discovery port, and TLS 1.3
   * keyed by it on the peer port (unless `tls` with `ca` secures that port). Default none.
   */
  clusterKey?: string;
  /** TLS for the peer port; with `ca`, mutual TLS (peers need a certificate signed by it); next to `clusterKey`, `ca` is required. Default none. */
  tls?: PeerTlsOptions;
  /** Placement hash; every node must use the same. Default xxhash64. */
  hasher?: Hasher;
  /**
   * Failure detection (SWIM). Each `probeInterval` ms (default 500) a node
   * pings one member; without an ack within `probeTimeout` ms (default 200,
   * shorter than probeInterval) it asks `indirectChecks` members (default 3)
   * to ping it; without any ack by the period's end the member is suspect,
   * and dead after `suspicionMultiplier` (default 4) × max(1, log10 N) ×
   * probeInterval unless it refutes. (`heartbeatInterval` and `suspectAfter`
   * are gone: there are no heartbeats.)
   */
  membership?: Partial<FailureDetection> & {
    /** Gone: replaced by `probeInterval` (there are no heartbeats); setting it fails. */
    heartbeatInterval?: never;
    /** Gone: replaced by `suspicionMultiplier`; setting it fails. */
    suspectAfter?: never;
  };
  /** The distcache wire-protocol listener, for SSL/TLS servers sharing sessions. Default: off. */
  sessionCache?: SessionCacheOptions;
  /** The admin HTTP server: health, readiness, members, keyspaces, Prometheus metrics, dashboard. Default: off. */
  admin?: AdminOptions;
}

/** Options of the admin HTTP server. */
export interface AdminOptions {
  /** `host:port` to listen on (`[::1]:port` for IPv6). Default `127.0.0.1:9464`: loopback only. */
  listen?: string;
  /**
   * Bearer token the mutating endpoints (the DELETEs) require. The read
   * endpoints, the metrics and the dashboard stay open: bind them to a
   * private address. Default none (then the DELETEs are open too).
   */
  token?: string;
  /** HTTPS instead of HTTP. Default none. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

/** Options of the distcache protocol listener. */
export interface SessionCacheOptions {
  /** Addresses in the C tools' syntax: `UNIX:/path`, `IP:port`, `IP:host:port`. Required. */
  listen: string[];
  /** Keyspace holding the sessions; created (without a data source) unless defined. Default `ssl-sessions`. */
  keyspace?: string;
  /** Size of that keyspace when created: about dc_server's 512 sessions. Default 2 MiB. */
  maxBytes?: number;
  /** TLS on every address; with `ca`, clients need a certificate it signed. Default none. */
  tls?: PeerTlsOptions;
  /** UNIX socket owner uid, group gid and mode (e.g. 0o660). Default: the process's, umask. */
  socket?: { owner?: number; group?: number; mode?: number };
  /** Time in ms after which an idle connection is closed (checked four times per period, so up to a quarter later). Default 60000. */
  idleTimeout?: number;
  /** Connections accepted at once. Default 20000. */
  maxConnections?: number;
}
