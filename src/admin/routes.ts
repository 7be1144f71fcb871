import type { PeerInfo } from '../cluster/cluster.js';
import { DistCacheError, ErrorCode } from '../errors.js';
import type { KeyspaceConfig } from '../keyspace/settings.js';
import type { KeyspaceStats } from '../keyspace/types.js';
import type { EngineMetrics } from '../observability/metrics.js';
import { DASHBOARD_PAGE } from './dashboard-page.js';

/** What the admin endpoints read from and do to the engine. */
export interface AdminView {
  /** Liveness and readiness. */
  health(): EngineHealth;
  peers(): PeerInfo[];
  keyspaces(): { config: KeyspaceConfig; stats: KeyspaceStats }[];
  /** Owner first, then replicas; empty when standalone. These three throw ERR_KEYSPACE_NOT_FOUND for an unknown keyspace. */
  owners(keyspace: string, key: string): string[];
  deleteKey(keyspace: string, key: string): Promise<boolean>;
  deleteKeyspace(keyspace: string): Promise<void>;
  /** Empties a keyspace on every node (a flush). */
  clearKeyspace(keyspace: string): Promise<void>;
}

/** The engine's state as the probes see it. */
export interface EngineHealth {
  state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';
  /** Running, not stopping, and at least `minimumPeersQuorum` members alive. */
  ready: boolean;
  /** Members in placement (1 when standalone). */
  members: number;
  quorum: number;
}

/** One HTTP answer. */
export interface Reply {
  status: number;
  contentType: string;
  body: string;
}

/** Synthetic keys the ownership share is estimated from. */
const OWNERSHIP_SAMPLE = 1_024;

/**
 * The admin endpoints, as a pure function of method and URL to a reply
 * (the server does the HTTP). Throws DistCacheErrors for bad requests.
 */
export class AdminRoutes {
  constructor(
    private readonly view: AdminView,
    private readonly metrics: EngineMetrics,
  ) {}

  async handle(method: string, url: URL): Promise<Reply> {
    const segments = url.pathname.split('/').filter(Boolean).map(decodeSegment);
    const [first, name, third, key, ...rest] = segments;
    if (rest.length > 0) throw notFound(url);
    switch (first) {
      case undefined:
        return only(method, 'GET', () => ({
          status: 200,
          contentType: 'text/html; charset=utf-8',
          body: DASHBOARD_PAGE,
        }));
      case 'health':
        return only(method, 'GET', () => this.#health(false));
      case 'ready':
        return only(method, 'GET', () => this.#health(true));
      case 'metrics':
        return only(method, 'GET', async () => ({
          status: 200,
          contentType: this.metrics.contentType,
          body: await this.metrics.text(),
        }));
      case 'peers':
        return only(method, 'GET', () => json(this.#peers()));
      case 'owner':
        return only(method, 'GET', () => json(this.#owner(url.searchParams)));
      case 'ownership':
        return only(method, 'GET', () => json(this.#ownership(url.searchParams)));
      case 'keyspaces':
        if (name === undefined) return only(method, 'GET', () => json(this.view.keyspaces().map(describeKeyspace)));
        if (third === undefined) {
          if (method === 'DELETE') return this.#deleteKeyspace(name);
          return only(method, 'GET', () => json(describeKeyspace(this.#keyspace(name))));
        }
        if (third === 'keys')
          return only(method, 'DELETE', () =>
            key === undefined ? this.#clearKeyspace(name) : this.#deleteKey(name, key),
          );
    }
    throw notFound(url);
  }

  #health(readiness: boolean): Reply {
    const health = this.view.health();
    const ok = readiness ? health.ready : health.state !== 'stopped' && health.state !== 'idle';
    return {
      status: ok ? 200 : 503,
      contentType: 'application/json',
      body: JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...health }),
    };
  }

  #peers() {
    return this.view.peers().map((peer) => ({
      id: peer.id,
      discoveryAddress: peer.discoveryAddress,
      state: peer.state,
      incarnation: peer.incarnation,
      digest: peer.digest,
      digestMismatch: peer.digestMismatch,
      admitted: peer.admitted,
      self: peer.self,
      lastSeen: new Date(peer.lastSeen).toISOString(),
    }));
  }

  #owner(query: URLSearchParams) {
    const keyspace = required(query, 'keyspace');
    const key = required(query, 'key');
    const [owner, ...replicas] = this.view.owners(keyspace, key);
    return { keyspace, key, owner: owner ?? null, replicas };
  }

  /** Share of keys each member owns, estimated over synthetic keys (rendezvous hashing spreads them evenly). */
  #ownership(query: URLSearchParams) {
    const keyspace = query.get('keyspace') ?? this.view.keyspaces()[0]?.config.name;
    if (keyspace === undefined) return { keyspace: null, sample: 0, shares: [] };
    // A standalone node owns every key, and has no owners list: it is the one member.
    const self = this.view.peers().find((peer) => peer.self)?.id ?? 'self';
    const counts = new Map<string, number>();
    for (let i = 0; i < OWNERSHIP_SAMPLE; i++) {
      const owner = this.view.owners(keyspace, `sample-${i}`)[0] ?? self;
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    const shares = [...counts]
      .map(([member, count]) => ({ member, share: count / OWNERSHIP_SAMPLE }))
      .sort((a, b) => (a.member < b.member ? -1 : 1));
    return { keyspace, sample: OWNERSHIP_SAMPLE, shares };
  }

  async #deleteKey(keyspace: string, key: string): Promise<Reply> {
    return json({ keyspace, key, deleted: await this.view.deleteKey(keyspace, key) });
  }

  async #clearKeyspace(keyspace: string): Promise<Reply> {
    await this.view.clearKeyspace(keyspace);
    return json({ keyspace, cleared: true });
  }

  async #deleteKeyspace(keyspace: string): Promise<Reply> {
    await this.view.deleteKeyspace(keyspace);
    return json({ keyspace, deleted: true });
  }

  #keyspace(name: string): { config: KeyspaceConfig; stats: KeyspaceStats } {
    const found = this.view.keyspaces().find(({ config }) => config.name === name);
    if (found) return found;
    throw new DistCacheError(ErrorCode.KEYSPACE_NOT_FOUND, `keyspace ${JSON.stringify(name)} is not defined`);
  }
}

/** A keyspace's settings (no data source, codec or function, nothing secret) and its stats. */
function describeKeyspace({ config, stats }: { config: KeyspaceConfig; stats: KeyspaceStats }) {
  return {
    name: config.name,
    config: {
      maxBytes: config.maxBytes,
      defaultTtl: config.defaultTtl,
      negativeTtl: config.negativeTtl,
      staleIfError: config.staleIfError,
      staleWhileRevalidate: config.staleWhileRevalidate,
      refreshAhead: config.refreshAhead,
      ttlJitter: config.ttlJitter,
      maxBatch: config.maxBatch,
      readTimeout: config.readTimeout,
      writeTimeout: config.writeTimeout,
      hotCache: config.hotCache,
      replicaCount: config.replicaCount,
      replicaReads: config.replicaReads,
      replication: config.replication,
      codec: config.codec?.name ?? 'bytes',
      dataSource: config.dataSource !== undefined,
      batchedLoads: config.dataSource?.fetchMany !== undefined,
      rateLimit: config.rateLimit ?? null,
      circuitBreaker: config.circuitBreaker ?? null,
      warmKeys: config.warmKeys.length,
    },
    stats,
  };
}

function only(method: string, allowed: string, answer: () => Reply | Promise<Reply>): Reply | Promise<Reply> {
  if (method !== allowed) throw new DistCacheError(ErrorCode.METHOD_NOT_ALLOWED, `use ${allowed} here, not ${method}`);
  return answer();
}

function json(value: unknown): Reply {
  return { status: 200, contentType: 'application/json', body: JSON.stringify(value) };
}

function required(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null || value === '')
    throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, `the query parameter "${name}" is required`);
  return value;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new DistCacheError(
      ErrorCode.INVALID_ARGUMENT,
      `the path segment ${JSON.stringify(segment)} is not valid percent-encoding`,
    );
  }
}

function notFound(url: URL): DistCacheError {
  return new DistCacheError(
    ErrorCode.NOT_FOUND,
    `no admin endpoint at ${JSON.stringify(url.pathname)}; see GET / for the dashboard`,
  );
}
