import { EventEmitter } from 'node:events';
import { StandaloneDiscovery } from '../discovery/standalone.js';
import { settleWithin } from './abort.js';
import { AdminServer } from './admin/admin-server.js';
import type { AdminView, EngineHealth } from './admin/routes.js';
import { checkCallOptions, checkPutOptions, type CallOptions, type PutOptions } from './call-options.js';
import { Cluster, type KeyspaceDirectory, type PeerInfo } from './cluster/cluster.js';
import { keyspaceDigest } from './cluster/keyspace-digest.js';
import type { Member, MembershipChange } from './cluster/membership.js';
import { selfAddress, selfPeerInfo } from './cluster/peer-info.js';
import { TOMBSTONE_TTL_MS } from './cluster/settings.js';
import { resolveEngineConfig, resolveKeyspaceConfig, type EngineConfig } from './config.js';
import { DistCacheError, ErrorCode } from './errors.js';
import { validateKey } from './keyspace/entry-input.js';
import { Keyspace, type KeyspaceVersioning } from './keyspace/keyspace.js';
import type { KeyspaceConfig } from './keyspace/settings.js';
import type { GetResult, KeyspaceStats, PutEntry } from './keyspace/types.js';
import { HybridLogicalClock } from './lib/hybrid-logical-clock.js';
import { EngineMetrics, type MetricSources } from './observability/metrics.js';
import { Telemetry, type ReadPath } from './observability/telemetry.js';
import type { EngineOptions, KeyspaceOptions } from './options.js';
import { SessionListener } from './protocol/listener.js';
import { SessionOperations, type SessionStore } from './protocol/session-operations.js';

export type { CallOptions, PutOptions } from './call-options.js';

type EngineState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Payload of the `peerJoined`, `peerLeft` and `peerUpdated` events. */
export interface PeerEvent {
  readonly peer: Member;
  /** Epoch ms of the change. */
  readonly timestamp: number;
}

/** Events an engine emits; listeners run after the change is applied and never hold up membership. */
export interface EngineEvents {
  peerJoined: [PeerEvent];
  peerLeft: [PeerEvent];
  peerUpdated: [PeerEvent];
}

const EVENT_OF: Record<MembershipChange['kind'], keyof EngineEvents> = {
  joined: 'peerJoined',
  left: 'peerLeft',
  updated: 'peerUpdated',
};

/**
 * A read-through cache engine. Define keyspaces, `start()`, then `get` keys:
 * a miss is loaded once from the keyspace's data source, however many
 * callers ask at the same time, stored with its TTL, and returned.
 *
 * ```ts
 * const engine = new Engine({ keyspaces: [{ name: 'users', maxBytes: 64 << 20, dataSource }] });
 * await engine.start();
 * const user = await engine.get('users', '42');
 * await engine.stop();
 * ```
 */
export class Engine extends EventEmitter<EngineEvents> {
  readonly #config: EngineConfig;
  /** Keyspace definitions, kept across stop/start; updateKeySpace and deleteKeySpace change them. */
  readonly #definitions = new Map<string, KeyspaceConfig>();
  /** The keyspaces, present while running. */
  readonly #keyspaces = new Map<string, Keyspace>();
  #state: EngineState = 'idle';
  #transition: Promise<void> | undefined;
  /** Present while running with a discovery other than standalone. */
  #cluster: Cluster | undefined;
  /** When this node last started (epoch ms): a standalone node's incarnation. */
  #startedAt = 0;
  /** Present while running with the `sessionCache` option. */
  #sessions: SessionListener | undefined;
  /** Present while running with the `admin` option. */
  #admin: AdminServer | undefined;
  /** Metrics (with the `admin` option) and spans (with a registered OpenTelemetry tracer provider). */
  readonly #telemetry: Telemetry;
  /** How this node's keyspaces version their entries: one clock for the node; tombstones only in a cluster. */
  readonly #versioning: KeyspaceVersioning;

  /** Validates `options` (ERR_INVALID_CONFIG names the bad field and value); nothing starts until {@link start}. */
  constructor(options: EngineOptions) {
    super();
    this.#config = resolveEngineConfig(options);
    for (const config of this.#config.keyspaces) this.#definitions.set(config.name, config);
    const parts = { sessionListener: this.#config.sessionCache !== undefined };
    this.#telemetry = new Telemetry(this.#config.admin && new EngineMetrics(this.#metricSources(), parts));
    const standalone = this.#config.discovery instanceof StandaloneDiscovery;
    this.#versioning = { clock: new HybridLogicalClock(), tombstoneTtl: standalone ? 0 : TOMBSTONE_TTL_MS };
  }

  /**
   * Starts the node: the keyspaces, then (unless standalone) the peer and
   * discovery ports and the join. Resolves once `minimumPeersQuorum` members
   * are alive, else rejects with ERR_CLUSTER_QUORUM after `bootstrapTimeout`.
   * Idempotent.
   */
  async start(): Promise<void> {
    if (this.#state === 'running') return;
    if (this.#state === 'starting') return this.#transition;
    if (this.#state === 'stopping') await this.#transition;
    this.#state = 'starting';
    this.#transition = this.#start();
    return this.#transition;
  }

  /**
   * Stops the node gracefully: new calls are refused with
   * ERR_ENGINE_NOT_STARTED, loads in progress get up to `shutdownTimeout` to
   * finish for their callers, then every timer and connection is released.
   * Idempotent; the engine can be started again (with empty caches).
   */
  async stop(): Promise<void> {
    if (this.#state === 'starting') await this.#transition!.catch(() => undefined);
    if (this.#state === 'stopping') return this.#transition;
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    this.#transition = this.#stop();
    return this.#transition;
  }

  /**
   * Reads `key` from the keyspace `keyspaceName`, loading it from the data source on a miss.
   * Resolves `undefined` when the data source says the key does not exist.
   */
  get<V = Uint8Array>(keyspaceName: string, key: string, options?: CallOptions): Promise<GetResult<V> | undefined> {
    // Not `async`: a hit resolves through one promise instead of two (the hot path of every read).
    try {
      if (options !== undefined) checkCallOptions(options);
      const keyspace = this.#keyspaceNamed(keyspaceName);
      return this.#telemetry.get(this.#readPath, keyspace, key, options?.signal) as Promise<GetResult<V> | undefined>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Reads several keys; the results are in the order of `keys`. Rejects with
   * the first error. Cold keys load together: through the data source's
   * `fetchMany` in batches of `maxBatch`, and in a cluster with one request
   * to each owner, which loads its misses as one batch.
   */
  async getMany<V = Uint8Array>(
    keyspaceName: string,
    keys: readonly string[],
    options?: CallOptions,
  ): Promise<(GetResult<V> | undefined)[]> {
    checkCallOptions(options);
    const keyspace = this.#keyspaceNamed(keyspaceName);
    requireArray(keys, 'keys');
    this.#cluster?.prefetch(keyspace, keys);
    return Promise.all(keys.map((key) => this.get<V>(keyspaceName, key, options)));
  }

  /**
   * Writes one entry to the keyspace `keyspaceName`; `ttl` (ms) or `expiresAt` override the
   * keyspace's expiry. Resolves true when written; with `ifAbsent`, the owner
   * checks and writes in one step and resolves false, writing nothing, when
   * the key already holds a fresh value (with `replicaReads`, a replica
   * holding a fresh copy answers false itself).
   */
  async put<V = Uint8Array>(keyspaceName: string, entry: PutEntry<V>, options?: PutOptions): Promise<boolean> {
    checkPutOptions(options);
    const keyspace = this.#keyspaceNamed(keyspaceName);
    return this.#write(keyspace, keyspace.preparePut(entry), options?.ifAbsent ?? false);
  }

  /** Writes several entries; all are validated before any is written. */
  async putMany<V = Uint8Array>(
    keyspaceName: string,
    entries: readonly PutEntry<V>[],
    options?: CallOptions,
  ): Promise<void> {
    checkCallOptions(options);
    const keyspace = this.#keyspaceNamed(keyspaceName);
    requireArray(entries, 'entries');
    const prepared = entries.map((entry) => keyspace.preparePut(entry));
    await Promise.all(prepared.map((write) => this.#write(keyspace, write)));
  }

  /** Removes `key` from the keyspace `keyspaceName`; resolves true when it was cached. */
  async delete(keyspaceName: string, key: string, options?: CallOptions): Promise<boolean> {
    checkCallOptions(options);
    return this.#remove(this.#keyspaceNamed(keyspaceName), key);
  }

  /** Removes several keys; resolves how many were cached. */
  async deleteMany(keyspaceName: string, keys: readonly string[], options?: CallOptions): Promise<number> {
    checkCallOptions(options);
    const keyspace = this.#keyspaceNamed(keyspaceName);
    requireArray(keys, 'keys');
    const deleted = await Promise.all(keys.map((key) => this.#remove(keyspace, key)));
    return deleted.filter(Boolean).length;
  }

  /**
   * Removes a keyspace, its definition and all its entries, on every node of
   * the cluster. Later calls on it fail with ERR_KEYSPACE_NOT_FOUND. The
   * keyspace the session listener serves cannot be removed
   * (ERR_KEYSPACE_IN_USE): {@link clearKeySpace} empties it. A member whose
   * session listener serves it keeps it: the call then rejects with
   * ERR_KEYSPACE_IN_USE naming those members, once the others dropped it.
   */
  async deleteKeySpace(name: string, options?: CallOptions): Promise<void> {
    checkCallOptions(options);
    this.#requireDeletable(name);
    const keptBy = (await this.#cluster?.deleteKeyspace(name, this.#config.keyspaceDefaults.writeTimeout)) ?? [];
    await this.#dropLocal(name);
    if (keptBy.length > 0)
      throw new DistCacheError(
        ErrorCode.KEYSPACE_IN_USE,
        `keyspace ${JSON.stringify(name)} was deleted except on ${keptBy.join(', ')}, whose session listener serves it`,
      );
  }

  /** Removes several keyspaces; fails before removing any if one is unknown or in use. */
  async deleteKeySpaces(names: readonly string[], options?: CallOptions): Promise<void> {
    checkCallOptions(options);
    requireArray(names, 'names');
    for (const name of names) this.#requireDeletable(name);
    for (const name of names) await this.deleteKeySpace(name);
  }

  /**
   * Empties a keyspace on every node of the cluster (a flush): its entries and
   * hot copies are dropped, loads in progress finish for their callers without
   * being stored, and the keyspace keeps serving. Rejects with
   * ERR_PEER_UNAVAILABLE, naming them, when some members could not be reached
   * (the others are emptied all the same).
   */
  async clearKeySpace(name: string, options?: CallOptions): Promise<void> {
    checkCallOptions(options);
    const keyspace = this.#keyspaceNamed(name);
    if (this.#cluster) await this.#cluster.clearKeyspace(keyspace, this.#config.keyspaceDefaults.writeTimeout);
    else keyspace.clear();
  }

  /**
   * Replaces a keyspace's definition (data source, limits, TTLs), or adds it
   * when no keyspace has that name. The keyspace starts over empty: entries
   * cached under the old definition are dropped, and loads still running
   * under it finish for their callers without being stored. It changes this
   * node only (a data source is code, and cannot travel): the digest it
   * announces changes at once, the other members emit `peerUpdated`, and
   * `peers()` shows `digestMismatch` until every node has the same definitions.
   */
  async updateKeySpace<V = Uint8Array>(definition: KeyspaceOptions<V>, options?: CallOptions): Promise<void> {
    checkCallOptions(options);
    this.#requireRunning();
    const config = resolveKeyspaceConfig(definition, this.#config.keyspaceDefaults);
    const previous = this.#keyspaces.get(config.name);
    this.#definitions.set(config.name, config);
    this.#keyspaces.set(config.name, this.#keyspace(config));
    this.#announceDefinitions();
    await previous?.close();
    this.#config.logger.info({ keyspace: config.name, replaced: previous !== undefined }, 'keyspace updated');
  }

  /** Names of the keyspaces this node serves. */
  keySpaces(): string[] {
    this.#requireRunning();
    return [...this.#keyspaces.keys()];
  }

  /** Counters and sizes of one keyspace. */
  stats(name: string): KeyspaceStats {
    return this.#keyspaceNamed(name).stats();
  }

  /** The members of the cluster this node knows of, itself first (marked `self`); a standalone node lists only itself. */
  peers(): PeerInfo[] {
    this.#requireRunning();
    return this.#cluster?.peers() ?? [this.#standaloneSelf()];
  }

  /** A standalone node as a member list shows it, under the addresses it would have in a cluster. */
  #standaloneSelf(): PeerInfo {
    const digest = keyspaceDigest([...this.#definitions.values()]);
    return selfPeerInfo(selfAddress(this.#config.cluster), this.#startedAt, digest);
  }

  /** Liveness and readiness: ready once running with `minimumPeersQuorum` members alive, and no longer once stopping. */
  health(): EngineHealth {
    const members = this.#cluster ? this.#cluster.memberIds().length : 1;
    const quorum = this.#config.cluster.minimumPeersQuorum;
    return { state: this.#state, ready: this.#state === 'running' && members >= quorum, members, quorum };
  }

  /** Base URL of the admin server (e.g. `http://127.0.0.1:9464`); undefined without the `admin` option. */
  adminUrl(): string | undefined {
    return this.#admin?.url;
  }

  /** The node ids (peer addresses) that own `key`, owner first; empty when standalone. */
  owners(keyspaceName: string, key: string): string[] {
    this.#keyspaceNamed(keyspaceName);
    validateKey(key);
    return this.#cluster?.owners(keyspaceName, key) ?? [];
  }

  /** The read path as telemetry runs it: made once, so a get makes no closure. */
  readonly #readPath: ReadPath<Keyspace, GetResult<unknown> | undefined> = {
    read: (keyspace, key, signal) => this.#read(keyspace, key, signal),
    ownerOf: (keyspaceName, key) => this.#cluster?.primary(keyspaceName, key),
  };

  /** Reads `key` here when standalone, else wherever the cluster says it lives. */
  #read(keyspace: Keyspace, key: string, signal: AbortSignal | undefined) {
    return this.#cluster ? this.#cluster.get(keyspace, key, signal) : keyspace.get(key, signal);
  }

  /**
   * Every write goes through here: to the owners when clustered, counted and
   * timed when observed. A standalone, unobserved write is done at once (no promise).
   */
  #write(keyspace: Keyspace, entry: ReturnType<Keyspace['preparePut']>, ifAbsent = false): boolean | Promise<boolean> {
    if (this.#telemetry.active)
      return this.#telemetry.write(keyspace.name, 'put', async () =>
        this.#cluster ? this.#cluster.put(keyspace, entry, ifAbsent) : keyspace.commitPut(entry, ifAbsent),
      );
    return this.#cluster ? this.#cluster.put(keyspace, entry, ifAbsent) : keyspace.commitPut(entry, ifAbsent);
  }

  /** Every delete goes through here, like {@link #write}; a bad key rejects (deleteMany still removes the others). */
  #remove(keyspace: Keyspace, key: string): boolean | Promise<boolean> {
    if (this.#telemetry.active)
      return this.#telemetry.write(keyspace.name, 'delete', async () =>
        this.#cluster ? this.#cluster.delete(keyspace, key) : keyspace.delete(key),
      );
    try {
      return this.#cluster ? this.#cluster.delete(keyspace, key) : keyspace.delete(key);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #dropLocal(name: string): Promise<void> {
    const keyspace = this.#keyspaces.get(name);
    this.#keyspaces.delete(name);
    this.#definitions.delete(name);
    this.#announceDefinitions();
    await keyspace?.close();
  }

  #keyspace(config: KeyspaceConfig): Keyspace {
    return new Keyspace(config, this.#config.logger, this.#telemetry, this.#versioning);
  }

  /** The members learn this node's keyspace definitions changed (their digest). */
  #announceDefinitions(): void {
    this.#cluster?.setDigest(keyspaceDigest([...this.#definitions.values()]));
  }

  async #start(): Promise<void> {
    const { discovery, logger } = this.#config;
    this.#startedAt = Date.now();
    for (const config of this.#definitions.values()) this.#keyspaces.set(config.name, this.#keyspace(config));
    try {
      if (discovery instanceof StandaloneDiscovery) await discovery.start();
      else this.#cluster = await this.#startCluster();
    } catch (error) {
      await this.#closeKeyspaces();
      this.#state = 'idle';
      throw error;
    }
    this.#state = 'running';
    try {
      if (this.#config.sessionCache) this.#sessions = await this.#startSessionListener();
      if (this.#config.admin)
        this.#admin = await AdminServer.start(this.#config.admin, this.#adminView(), this.#telemetry.metrics!, logger);
    } catch (error) {
      this.#state = 'stopping';
      await this.#stop();
      this.#state = 'idle';
      throw error;
    }
    logger.info(
      { keyspaces: [...this.#keyspaces.keys()], discovery: discovery.name, self: this.#cluster?.selfId },
      'distcache engine started',
    );
  }

  #startCluster(): Promise<Cluster> {
    const directory: KeyspaceDirectory = {
      get: (name) => this.#keyspaces.get(name),
      list: () => [...this.#keyspaces.values()],
      dropLocal: async (name) => {
        this.#requireDeletable(name);
        await this.#dropLocal(name);
      },
    };
    return Cluster.start({
      config: this.#config.cluster,
      discovery: this.#config.discovery,
      directory,
      digest: keyspaceDigest([...this.#definitions.values()]),
      clock: this.#versioning.clock,
      shutdownTimeout: this.#config.shutdownTimeout,
      logger: this.#config.logger,
      telemetry: this.#telemetry,
      onChange: ({ kind, member }) => {
        this.#telemetry.membershipChange(kind);
        setImmediate(() => this.emit(EVENT_OF[kind], { peer: member, timestamp: Date.now() }));
      },
    });
  }

  /** The distcache protocol listener, over this engine's session keyspace (through the cluster when there is one). */
  async #startSessionListener(): Promise<SessionListener> {
    const settings = this.#config.sessionCache!;
    const keyspaceName = settings.keyspace;
    const listener = new SessionListener(
      {
        listen: settings.listen,
        tls: settings.tls,
        socket: settings.socket,
        idleTimeout: settings.idleTimeout,
        maxConnections: settings.maxConnections,
      },
      new SessionOperations(this.#sessionStore(keyspaceName), (operation, status) =>
        this.#telemetry.sessionOperation(operation, status),
      ),
      this.#config.logger,
    );
    await listener.start();
    return listener;
  }

  /**
   * The engine calls of the session listener, on keyspace `keyspaceName`: engine
   * get, put (ifAbsent) and delete, that answer at once (no promise) when the
   * session is in this node's memory, or a standalone node writes it.
   */
  #sessionStore(keyspaceName: string): SessionStore {
    return {
      get: (key) => {
        const read = this.#telemetry.read(this.#readPath, this.#keyspaceNamed(keyspaceName), key, undefined);
        return read instanceof Promise ? read.then(sessionOf) : sessionOf(read);
      },
      put: (key, value, expiresAt) => {
        const keyspace = this.#keyspaceNamed(keyspaceName);
        return this.#write(keyspace, keyspace.preparePut({ key, value, expiresAt }), true);
      },
      delete: (key) => this.#remove(this.#keyspaceNamed(keyspaceName), key),
    };
  }

  #adminView(): AdminView {
    return {
      health: () => this.health(),
      peers: () => this.peers(),
      keyspaces: () =>
        [...this.#keyspaces.values()].map((keyspace) => ({ config: keyspace.config, stats: keyspace.stats() })),
      owners: (keyspaceName, key) => this.owners(keyspaceName, key),
      deleteKey: (keyspaceName, key) => this.delete(keyspaceName, key),
      deleteKeyspace: (name) => this.deleteKeySpace(name),
      clearKeyspace: (name) => this.clearKeySpace(name),
    };
  }

  #metricSources(): MetricSources {
    return {
      keyspaces: () =>
        [...this.#keyspaces.values()].map((keyspace) => ({
          name: keyspace.name,
          stats: keyspace.stats(),
          immediate: keyspace,
        })),
      members: () => this.#cluster?.peers() ?? [{ state: 'alive' }],
      replicating: () => this.#cluster?.replicating ?? { running: 0, waiting: 0 },
    };
  }

  /** Addresses the session listener is bound to; empty without `sessionCache`. */
  sessionAddresses(): string[] {
    return this.#sessions?.addresses() ?? [];
  }

  async #stop(): Promise<void> {
    await this.#sessions?.stop();
    this.#sessions = undefined;
    const cluster = this.#cluster;
    this.#cluster = undefined;
    // Hand the entries over and leave first, so peers route elsewhere; finish this node's own loads and
    // remote reads; then close.
    await cluster?.handOffAndLeave(this.#config.shutdownTimeout);
    const inFlight = [...this.#keyspaces.values()].flatMap((keyspace) => keyspace.running());
    if (cluster) inFlight.push(...cluster.running());
    await settleWithin(inFlight, this.#config.shutdownTimeout);
    if (cluster) await cluster.stop();
    else await this.#config.discovery.stop();
    await this.#closeKeyspaces();
    await this.#admin?.close();
    this.#admin = undefined;
    this.#state = 'stopped';
    this.#config.logger.info({}, 'distcache engine stopped');
  }

  async #closeKeyspaces(): Promise<void> {
    const keyspaces = [...this.#keyspaces.values()];
    this.#keyspaces.clear();
    await Promise.all(keyspaces.map((keyspace) => keyspace.close()));
  }

  #requireRunning(): void {
    if (this.#state === 'running') return;
    const why =
      this.#state === 'idle' || this.#state === 'starting' ? 'await engine.start() first' : 'the engine was stopped';
    throw new DistCacheError(ErrorCode.ENGINE_NOT_STARTED, `engine is not running: ${why}`);
  }

  /** Throws unless `name` is a keyspace this node may drop: defined, and not the one the session listener serves. */
  #requireDeletable(name: string): void {
    this.#keyspaceNamed(name);
    if (this.#config.sessionCache?.keyspace !== name) return;
    throw new DistCacheError(
      ErrorCode.KEYSPACE_IN_USE,
      `keyspace ${JSON.stringify(name)} is served by the session listener and cannot be deleted; empty it with clearKeySpace (DELETE /keyspaces/${name}/keys)`,
    );
  }

  #keyspaceNamed(name: string): Keyspace {
    const keyspace = this.#keyspaces.get(name);
    if (keyspace !== undefined && this.#state === 'running') return keyspace;
    this.#requireRunning();
    throw new DistCacheError(
      ErrorCode.KEYSPACE_NOT_FOUND,
      `keyspace ${JSON.stringify(String(name))} is not defined; defined: ${[...this.#keyspaces.keys()].join(', ') || 'none'}`,
    );
  }
}

function requireArray(value: unknown, what: string): void {
  if (!Array.isArray(value)) throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, `${what} must be an array`);
}

/** The bytes of a session read through the engine. */
function sessionOf(read: GetResult<unknown> | undefined): Uint8Array | undefined {
  return read?.value as Uint8Array | undefined;
}
