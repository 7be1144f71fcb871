import { networkInterfaces } from 'node:os';
import type { ClusterConfig } from '../config.js';
import { discoveryAddress, type DiscoveryProvider } from '../discovery.js';
import { DistCacheError, ErrorCode } from '../errors.js';
import { validateKey } from '../keyspace/entry-input.js';
import type { Keyspace, ReadResult } from '../keyspace/keyspace.js';
import type { Logger } from '../logger.js';
import { splitHostPort } from '../net/host-port.js';
import type { Telemetry } from '../observability/telemetry.js';
import { CoalescedRun } from './coalesced-run.js';
import { createXxhash64 } from './hasher.js';
import { HotCache } from './hot-cache.js';
import { Membership, type Member, type MembershipChange } from './membership.js';
import { OwnerRouter } from './owner-router.js';
import { peerSecurity, type PeerSecurity } from './peer-channel.js';
import { PeerClient } from './peer-client.js';
import { PeerServer, type PeerReadReply, type PeerRequestHandler } from './peer-server.js';
import { Placement } from './placement.js';
import { warmUp } from './warmup.js';

/** The keyspaces of this node, as the cluster reaches them. */
export interface KeyspaceDirectory {
  get(name: string): Keyspace | undefined;
  list(): Keyspace[];
  /** Drops a keyspace on this node only (another node broadcast the delete). */
  dropLocal(name: string): Promise<void>;
}

/** A member as `engine.peers()` reports it. */
export interface PeerInfo extends Member {
  /** True for this node. */
  readonly self: boolean;
  /** True when its keyspace definitions differ from this node's. */
  readonly digestMismatch: boolean;
  /** True when it takes part in placement: alive and its peer port passed the handshake. */
  readonly admitted: boolean;
}

export interface ClusterStartOptions {
  readonly config: ClusterConfig;
  readonly discovery: DiscoveryProvider;
  readonly directory: KeyspaceDirectory;
  /** Digest of this node's keyspace definitions. */
  readonly digest: string;
  readonly shutdownTimeout: number;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly onChange: (change: MembershipChange) => void;
}

/**
 * One node's part of the cluster: the peer port (server and clients),
 * membership on the discovery port, placement over the live members, the
 * owner router, hot copies and warmup. Built by {@link Cluster.start}, which
 * resolves once the quorum is reached.
 */
export class Cluster {
  readonly router: OwnerRouter;
  readonly #options: ClusterStartOptions;
  readonly #selfId: string;
  readonly #incarnation = Date.now();
  readonly #membership: Membership;
  readonly #placement: Placement;
  readonly #server: PeerServer;
  readonly #clients = new Map<string, PeerClient>();
  readonly #security: PeerSecurity;
  readonly #hot = new HotCache();
  /** Members whose peer port completed the handshake (cluster key, TLS): only they enter placement. */
  readonly #verified = new Set<string>();
  readonly #verifyRetries = new Set<NodeJS.Timeout>();
  /** Members already reported as refused, so a retry loop logs once. */
  readonly #refused = new Set<string>();
  #rediscover: NodeJS.Timeout | undefined;
  /** Dials prompted by discovery's `changed()`, while the node is running. */
  readonly #dials = new CoalescedRun(
    () => this.#dialDiscovered(),
    () => this.#rediscover !== undefined,
  );
  /** Warmups after topology changes. */
  readonly #warmups = new CoalescedRun(() => this.#warmUp());

  private constructor(options: ClusterStartOptions, placement: Placement) {
    const { config, logger } = options;
    this.#options = options;
    this.#placement = placement;
    const host = config.bindAddr === '0.0.0.0' ? firstExternalIpv4() : config.bindAddr;
    this.#selfId = `${host}:${config.bindPort}`;
    this.#security = peerSecurity(config.clusterKey, config.tls);
    this.#server = new PeerServer(this.#handler(), this.#security, logger, { selfId: this.#selfId });
    this.#membership = new Membership(
      {
        id: this.#selfId,
        discoveryHost: host,
        discoveryPort: config.discoveryPort,
        incarnation: this.#incarnation,
        digest: options.digest,
      },
      config.membership,
      config.clusterKey,
      logger,
    );
    this.#placement.setMembers([this.#selfId]);
    this.router = new OwnerRouter({
      selfId: this.#selfId,
      placement,
      hot: this.#hot,
      client: (id) => this.#client(id),
    });
  }

  /** Opens the ports, joins through discovery, and resolves once `minimumPeersQuorum` members are alive. */
  static async start(options: ClusterStartOptions): Promise<Cluster> {
    const placement = new Placement(options.config.hasher ?? (await createXxhash64()));
    const cluster = new Cluster(options, placement);
    try {
      await cluster.#open();
      await cluster.#join();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** This node's id (its peer address). */
  get selfId(): string {
    return this.#selfId;
  }

  /** Every member this node knows of, itself first. */
  peers(): PeerInfo[] {
    const self: PeerInfo = {
      id: this.#selfId,
      discoveryAddress: this.#discoveryAddress(),
      incarnation: this.#incarnation,
      state: 'alive',
      digest: this.#options.digest,
      lastSeen: Date.now(),
      self: true,
      digestMismatch: false,
      admitted: true,
    };
    const placed = new Set(this.#placement.members);
    const others = this.#membership.members().map((member) => ({
      ...member,
      self: false,
      digestMismatch: member.digest !== this.#options.digest,
      admitted: placed.has(member.id),
    }));
    return [self, ...others];
  }

  /** The node that owns `key`: the first of {@link owners}, without ranking every member. */
  primary(keyspace: string, key: string): string {
    return this.#placement.primary(keyspace, key);
  }

  /** The nodes that own `key` in a defined keyspace, owner first. */
  owners(keyspace: string, key: string): string[] {
    return this.#placement.owners(keyspace, key, this.#options.directory.get(keyspace)?.config.replicaCount ?? 1);
  }

  /** Ids of the members placement uses: alive, and verified through the peer handshake. */
  memberIds(): readonly string[] {
    return this.#placement.members;
  }

  /** Announces the leave: other nodes stop routing here, while this node still answers their requests in progress. */
  leave(): void {
    clearInterval(this.#rediscover);
    this.#rediscover = undefined;
    for (const timer of this.#verifyRetries) clearTimeout(timer);
    this.#membership.leave();
  }

  /** Leaves (if not done yet), lets peers' requests in progress finish (within shutdownTimeout), then closes everything. */
  async stop(): Promise<void> {
    this.leave();
    await this.#server.close(this.#options.shutdownTimeout);
    await this.#membership.stop();
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
    await this.#warmups.running;
    await this.#options.discovery.stop();
  }

  async #open(): Promise<void> {
    const { config } = this.#options;
    await this.#server.listen(config.bindAddr, config.bindPort);
    this.#membership.on('change', (change) => this.#onMembershipChange(change));
    await this.#membership.start();
    await this.#options.discovery.start({
      self: this.#discoveryAddress(),
      logger: this.#options.logger,
      changed: () => {
        if (this.#rediscover !== undefined) this.#dials.request();
      },
    });
  }

  /** This node's discovery address: its peer host with the discovery port. */
  #discoveryAddress(): string {
    return discoveryAddress(splitHostPort(this.#selfId).host, this.#options.config.discoveryPort);
  }

  /** Dials discovery's addresses every joinRetryInterval until the quorum is alive, within bootstrapTimeout. */
  async #join(): Promise<void> {
    const { config, discovery, logger } = this.#options;
    const deadline = Date.now() + config.bootstrapTimeout;
    for (let attempt = 1; ; attempt++) {
      if (attempt <= config.maxJoinAttempts) await this.#dialDiscovered();
      const alive = this.#placement.members.length;
      if (alive >= config.minimumPeersQuorum) break;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DistCacheError(
          ErrorCode.CLUSTER_QUORUM,
          `only ${alive} of the ${config.minimumPeersQuorum} members needed (minimumPeersQuorum) were alive after ${config.bootstrapTimeout} ms (bootstrapTimeout); ` +
            `discovery "${discovery.name}" found: ${(await discovery.addresses().catch(() => [])).join(', ') || 'nothing'}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(config.joinRetryInterval, left)));
    }
    logger.info({ self: this.#selfId, members: this.#placement.members }, 'joined the cluster');
    this.#rediscover = setInterval(() => void this.#dialDiscovered(), config.joinRetryInterval * 5);
  }

  async #dialDiscovered(): Promise<void> {
    try {
      await this.#membership.dial(await this.#options.discovery.addresses());
    } catch (error) {
      this.#options.logger.warn(
        { err: (error as Error).message, discovery: this.#options.discovery.name },
        'discovery failed; keeping the current members',
      );
    }
  }

  #onMembershipChange(change: MembershipChange): void {
    const { member } = change;
    const gone = member.state === 'dead' || member.state === 'left';
    if (gone) this.#verified.delete(member.id);
    else if (!this.#verified.has(member.id)) void this.#verify(member.id);
    this.#updatePlacement();
    if (member.digest !== this.#options.digest && !gone) {
      this.#options.logger.warn({ member: member.id }, 'member has different keyspace definitions (digest mismatch)');
    }
    this.#options.onChange(change);
  }

  /** Admits a member to placement once its peer port accepts our handshake: a node without the cluster key or certificate never owns keys. */
  async #verify(id: string): Promise<void> {
    try {
      await this.#client(id).verify();
      if (!this.#membership.aliveIds().includes(id)) return;
      this.#refused.delete(id);
      this.#verified.add(id);
      this.#updatePlacement();
    } catch (error) {
      const level = this.#refused.has(id) ? 'debug' : 'warn';
      this.#refused.add(id);
      this.#options.logger[level](
        { member: id, err: (error as Error).message },
        'member refused: its peer port failed the handshake; retrying',
      );
      this.#retryVerify(id);
    }
  }

  /** Tries the handshake again after joinRetryInterval while the member stays alive (it may just have been slow). */
  #retryVerify(id: string): void {
    const timer = setTimeout(() => {
      this.#verifyRetries.delete(timer);
      if (this.#membership.aliveIds().includes(id) && !this.#verified.has(id)) void this.#verify(id);
    }, this.#options.config.joinRetryInterval);
    this.#verifyRetries.add(timer);
  }

  #updatePlacement(): void {
    const alive = this.#membership.aliveIds();
    const before = this.#placement.members;
    this.#placement.setMembers(alive.filter((id) => id === this.#selfId || this.#verified.has(id)));
    for (const [id, client] of this.#clients) {
      if (!alive.includes(id)) {
        client.close();
        this.#clients.delete(id);
      }
    }
    const after = this.#placement.members;
    if (before.length !== after.length || before.some((id, i) => id !== after[i])) this.#warmups.request();
  }

  /** Loads the keys this node now owns after a topology change. */
  async #warmUp(): Promise<void> {
    const loaded = await warmUp(
      this.#options.directory.list(),
      (keyspace) => this.#hot.keys(keyspace),
      (keyspace, key) => this.#placement.primary(keyspace, key) === this.#selfId,
      this.#options.logger,
    );
    if (loaded > 0) this.#options.logger.info({ loaded }, 'warmup loaded the keys this node now owns');
  }

  #client(id: string): PeerClient {
    let client = this.#clients.get(id);
    if (client === undefined) {
      client = new PeerClient(id, this.#security, { telemetry: this.#options.telemetry });
      this.#clients.set(id, client);
    }
    return client;
  }

  /** Serves peers' requests with this node's own keyspaces, never routing them on. */
  #handler(): PeerRequestHandler {
    const { directory } = this.#options;
    const runtime = (name: string): Keyspace => {
      const found = directory.get(name);
      if (found === undefined)
        throw new DistCacheError(ErrorCode.KEYSPACE_NOT_FOUND, `keyspace "${name}" is not defined on ${this.#selfId}`);
      return found;
    };
    return {
      get: (keyspace, key) => {
        const read = runtime(keyspace).read(key, undefined);
        return read instanceof Promise ? read.then(toReadReply) : toReadReply(read);
      },
      put: (keyspace, key, expiresAt, value, ifAbsent) => {
        validateKey(key);
        return runtime(keyspace).commitPut({ key, bytes: value, expiry: expiresAt }, ifAbsent);
      },
      delete: (keyspace, key) => runtime(keyspace).delete(key),
      invalidate: (keyspace, key) => {
        validateKey(key);
        this.router.onInvalidation(runtime(keyspace), key);
      },
      deleteKeyspace: async (keyspace) => {
        this.#hot.dropKeyspace(keyspace);
        if (directory.get(keyspace) !== undefined) await directory.dropLocal(keyspace);
      },
    };
  }
}

/** A read as a GET reply. A miss without a data source is not cacheable anywhere: it expires now. */
function toReadReply(read: ReadResult | undefined): PeerReadReply {
  return read === undefined ? { bytes: null, expiresAt: Date.now() } : { bytes: read.value, expiresAt: read.expiresAt };
}

function firstExternalIpv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return '127.0.0.1';
}
