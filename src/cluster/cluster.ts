import { isIP } from 'node:net';
import { discoveryAddress, type DiscoveryProvider } from '../discovery.js';
import { DistCacheError, ErrorCode } from '../errors.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import type { GetResult, PreparedPut } from '../keyspace/types.js';
import type { VersionedCopy } from '../keyspace/versions.js';
import { CoalescedRun } from '../lib/coalesced-run.js';
import type { HybridLogicalClock } from '../lib/hybrid-logical-clock.js';
import type { Logger } from '../logger.js';
import { splitHostPort } from '../net/host-port.js';
import type { Telemetry } from '../observability/telemetry.js';
import { Admission } from './admission.js';
import { CopyCoordinator } from './copy-coordinator.js';
import { CopyHolders } from './copy-holders.js';
import type { HandoffEntry } from './handoff.js';
import { createXxhash64 } from './hasher.js';
import { HotCache } from './hot-cache.js';
import { Membership, type FailureDetection, type Member, type MembershipChange } from './membership.js';
import { OwnerRouter, PEER_MARGIN_MS } from './owner-router.js';
import { PAUSE_CHECK_INTERVAL_MS } from './pause-detector.js';
import { peerSecurity, type PeerSecurity } from './peer-channel.js';
import { PeerClient } from './peer-client.js';
import { MessageType } from './peer-codec.js';
import { selfAddress, selfPeerInfo, type PeerInfo } from './peer-info.js';
import { createPeerRequestHandler } from './peer-request-handler.js';
import { PeerServer } from './peer-server.js';
import { Placement } from './placement.js';
import type { ClusterConfig } from './settings.js';
import { suspicionTimeout } from './swim/timing.js';
import { warmUp } from './warmup.js';

/**
 * The shortest silence after which the other members may declare a node
 * dead: a probe of it times out, then the shortest suspicion passes (SWIM,
 * fully confirmed). A pause this long makes a node sync before it is told it
 * was declared dead; the pause detector may measure a pause up to one check
 * interval short, hence that margin.
 */
function shortestDeclaredDead(timing: FailureDetection): number {
  return Math.max(timing.probeTimeout, timing.probeTimeout + suspicionTimeout(timing, 1) - PAUSE_CHECK_INTERVAL_MS);
}

/** The keyspaces of this node, as the cluster reaches them. */
export interface KeyspaceDirectory {
  get(name: string): Keyspace | undefined;
  list(): Keyspace[];
  /** Drops a keyspace on this node only (another node broadcast the delete). */
  dropLocal(name: string): Promise<void>;
}

export type { PeerInfo } from './peer-info.js';

export interface ClusterStartOptions {
  readonly config: ClusterConfig;
  readonly discovery: DiscoveryProvider;
  readonly directory: KeyspaceDirectory;
  /** Digest of this node's keyspace definitions. */
  readonly digest: string;
  /** The node's clock: versions every write, shared with its keyspaces. */
  readonly clock: HybridLogicalClock;
  readonly shutdownTimeout: number;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly onChange: (change: MembershipChange) => void;
}

/**
 * One node's part of the cluster: the peer port (server and clients),
 * membership on the discovery port, admission and placement of the live
 * members, the owner router, hot copies and warmup. Built by
 * {@link Cluster.start}, which resolves once the quorum is reached; then
 * {@link get}, {@link put} and {@link delete} send each call to the key's owners.
 */
export class Cluster {
  readonly #router: OwnerRouter;
  readonly #options: ClusterStartOptions;
  readonly #selfId: string;
  readonly #incarnation = Date.now();
  readonly #membership: Membership;
  readonly #placement: Placement;
  readonly #server: PeerServer;
  readonly #clients = new Map<string, PeerClient>();
  readonly #security: PeerSecurity;
  readonly #hot = new HotCache();
  readonly #holders = new CopyHolders();
  /** Member ids by the host their peer connections come from, to name the nodes that read from this one. */
  #membersByHost = new Map<string, string[]>();
  /** Members whose peer port completed the handshake (cluster key, TLS): only they enter placement. */
  readonly #admission: Admission;
  #rediscover: NodeJS.Timeout | undefined;
  /** Dials prompted by discovery's `changed()`, while the node is running. */
  readonly #dials = new CoalescedRun(
    () => this.#dialDiscovered(),
    () => this.#rediscover !== undefined,
  );
  /** Warmups after topology changes. */
  readonly #warmups = new CoalescedRun(() => this.#warmUp());
  /** Handoffs and syncs: the newest copy of a key stays on its owners as membership changes. */
  readonly #copies: CopyCoordinator;
  /** The digest this node announces; it changes with updateKeySpace and deleteKeySpace. */
  #digest: string;
  /** Set once stop() closed the peer clients: no new one connects. */
  #stopped = false;

  private constructor(options: ClusterStartOptions, placement: Placement) {
    const { config, logger } = options;
    this.#options = options;
    this.#placement = placement;
    this.#digest = options.digest;
    const { id, host } = selfAddress(config);
    this.#selfId = id;
    this.#security = peerSecurity(config.clusterKey, config.tls);
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
    this.#copies = new CopyCoordinator({
      selfId: this.#selfId,
      placement,
      clock: options.clock,
      hot: this.#hot,
      logger,
      keyspaces: () => options.directory.list(),
      others: () => this.#membership.aliveOrSuspectIds().filter((id) => id !== this.#selfId),
      declaredDeadAfter: shortestDeclaredDead(config.membership),
      sendCopies: (node, name, entries) => this.#sendCopies(node, name, entries),
      peek: (node, keyspace, key) => this.#peek(node, keyspace, key),
      requestSync: (node, timeoutMs) => this.#requestSync(node, timeoutMs),
    });
    this.#router = new OwnerRouter({
      selfId: this.#selfId,
      placement,
      hot: this.#hot,
      clock: options.clock,
      resync: this.#copies.resync,
      holders: this.#holders,
      client: (id) => this.#client(id),
      replicationFailed: (keyspace, node, error) => {
        options.telemetry.replicationFailure(keyspace);
        logger.debug(
          { keyspace, node, error: (error as Error)?.message },
          'a copy of an async write did not reach its owner',
        );
      },
    });
    const handler = createPeerRequestHandler({
      selfId: this.#selfId,
      keyspace: (name) => options.directory.get(name),
      dropLocal: (name) => options.directory.dropLocal(name),
      hot: this.#hot,
      router: this.#router,
      copies: this.#copies,
      holders: this.#holders,
      membersAt: (host) => this.#membersByHost.get(host) ?? [],
    });
    this.#server = new PeerServer(handler, this.#security, logger, { selfId: this.#selfId });
    this.#admission = new Admission({
      handshake: (id) => this.#client(id).verify(),
      isPresent: (id) => this.#membership.aliveOrSuspectIds().includes(id),
      onAdmitted: () => this.#updatePlacement(),
      retryInterval: config.joinRetryInterval,
      logger,
    });
  }

  /** Opens the ports, joins through discovery, and resolves once `minimumPeersQuorum` members are alive. */
  static async start(options: ClusterStartOptions): Promise<Cluster> {
    const placement = new Placement(options.config.hasher ?? (await createXxhash64()));
    const cluster = new Cluster(options, placement);
    try {
      // Syncing from the start: peers may route reads here before the join completes.
      cluster.#copies.joined();
      await cluster.#open();
      await cluster.#join();
      cluster.#copies.joined(); // again, now that the members are known: each is asked for its entries
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

  /** Reads `key` wherever it lives: here when this node owns it, else from its owner (see {@link OwnerRouter.get}). */
  get(
    keyspace: Keyspace,
    key: string,
    signal: AbortSignal | undefined,
  ): GetResult<unknown> | undefined | Promise<GetResult<unknown> | undefined> {
    return this.#router.get(keyspace, key, signal);
  }

  /** Starts a getMany's reads of keys other nodes own: one request per owner (see {@link OwnerRouter.prefetch}). */
  prefetch(keyspace: Keyspace, keys: readonly string[]): void {
    this.#router.prefetch(keyspace, keys);
  }

  /** Writes a prepared entry to the key's owner and replicas (see {@link OwnerRouter.put}). */
  put(keyspace: Keyspace, entry: PreparedPut, ifAbsent: boolean): Promise<boolean> {
    return this.#router.put(keyspace, entry, ifAbsent);
  }

  /** Deletes `key` on its owner and replicas; resolves whether any of them held it. */
  delete(keyspace: Keyspace, key: string): Promise<boolean> {
    return this.#router.delete(keyspace, key);
  }

  /** Asks every other member to drop the keyspace `name`; resolves the members that refused as they serve it. */
  deleteKeyspace(name: string, timeoutMs: number): Promise<string[]> {
    return this.#router.deleteKeyspace(name, this.memberIds(), timeoutMs);
  }

  /** Empties a keyspace on every member (see {@link OwnerRouter.clearKeyspace}). */
  clearKeyspace(keyspace: Keyspace, timeoutMs: number): Promise<void> {
    return this.#router.clearKeyspace(keyspace, this.memberIds(), timeoutMs);
  }

  /** Remote reads in progress and async writes' background work, for a graceful stop to wait on. */
  running(): Promise<unknown>[] {
    return this.#router.running();
  }

  /** Async writes whose copies are on their way, and those waiting for room. */
  get replicating(): { running: number; waiting: number } {
    return this.#router.replicating;
  }

  /** Every member this node knows of, itself first. */
  peers(): PeerInfo[] {
    const self = selfPeerInfo(
      { id: this.#selfId, discoveryAddress: this.#discoveryAddress() },
      this.#membership.incarnation,
      this.#digest,
    );
    const placed = new Set(this.#placement.members);
    const others = this.#membership.members().map((member) => ({
      ...member,
      self: false,
      digestMismatch: member.digest !== this.#digest,
      admitted: placed.has(member.id),
    }));
    return [self, ...others];
  }

  /** Announces new keyspace definitions: the other members see this node `updated`, and a mismatch while they differ. */
  setDigest(digest: string): void {
    if (digest === this.#digest) return;
    this.#digest = digest;
    this.#membership.setDigest(digest);
  }

  /** The node that owns `key`: the first of {@link owners}, without ranking every member. */
  primary(keyspaceName: string, key: string): string {
    return this.#placement.primary(keyspaceName, key);
  }

  /** The nodes that own `key` in a defined keyspace, owner first. */
  owners(keyspaceName: string, key: string): string[] {
    return this.#placement.owners(
      keyspaceName,
      key,
      this.#options.directory.get(keyspaceName)?.config.replicaCount ?? 1,
    );
  }

  /** Ids of the members placement uses: alive, and verified through the peer handshake. */
  memberIds(): readonly string[] {
    return this.#placement.members;
  }

  /**
   * A graceful stop's first step: hands this node's entries to the owners
   * they will have without it (within `timeoutMs`), then announces the
   * leave. Writes that still reach it are forwarded to those owners.
   */
  async handOffAndLeave(timeoutMs: number): Promise<void> {
    clearInterval(this.#rediscover);
    this.#rediscover = undefined;
    let timer: NodeJS.Timeout | undefined;
    const sent = await Promise.race([
      this.#copies.handOffBeforeLeaving(),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (sent === undefined) this.#options.logger.warn({ timeoutMs }, 'handoff before leaving ran out of time');
    else this.#options.logger.info({ sent }, 'handed off the entries this node owned');
    this.leave();
  }

  /** Announces the leave: other nodes stop routing here, while this node still answers their requests in progress. */
  leave(): void {
    clearInterval(this.#rediscover);
    this.#rediscover = undefined;
    this.#admission.stop();
    this.#membership.leave();
  }

  /** Leaves (if not done yet), lets peers' requests in progress finish (within shutdownTimeout), then closes everything. */
  async stop(): Promise<void> {
    this.leave();
    await this.#server.close(this.#options.shutdownTimeout);
    await this.#copies.stop();
    await this.#membership.stop();
    this.#stopped = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
    await this.#warmups.running;
    await this.#options.discovery.stop();
  }

  async #open(): Promise<void> {
    const { config } = this.#options;
    await this.#server.listen(config.bindAddr, config.bindPort);
    this.#membership.on('change', (change) => this.#onMembershipChange(change));
    this.#membership.on('declaredDead', () => this.#copies.declaredSelfDead());
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
    if (member.state === 'dead') this.#copies.declaredDead(member.id);
    if (member.state === 'alive') this.#copies.alive(member.id);
    if (gone) this.#admission.forget(member.id);
    else this.#admission.consider(member.id);
    this.#membersByHost = membersByHost(this.#membership.members());
    this.#updatePlacement();
    if (member.digest !== this.#digest && !gone) {
      this.#options.logger.warn({ member: member.id }, 'member has different keyspace definitions (digest mismatch)');
    }
    this.#options.onChange(change);
  }

  #updatePlacement(): void {
    const present = this.#membership.aliveOrSuspectIds();
    const before = this.#placement.members;
    this.#placement.setMembers(present.filter((id) => id === this.#selfId || this.#admission.has(id)));
    for (const [id, client] of this.#clients) {
      if (!present.includes(id)) {
        client.close();
        this.#clients.delete(id);
      }
    }
    const after = this.#placement.members;
    if (before.length === after.length && before.every((id, i) => id === after[i])) return;
    this.#copies.membersChanged(after.filter((id) => !before.includes(id)));
    this.#warmups.request();
  }

  /** Loads the keys this node now owns after a topology change, once a sync has brought what other nodes hold. */
  async #warmUp(): Promise<void> {
    await this.#copies.resync.idle();
    const loaded = await warmUp(
      this.#options.directory.list(),
      (name) => this.#hot.keys(name),
      (name, key) => this.#placement.primary(name, key) === this.#selfId,
      this.#options.logger,
    );
    if (loaded > 0) this.#options.logger.info({ loaded }, 'warmup loaded the keys this node now owns');
  }

  /** Sends copies to merge on `node`; resolves, once merged, whether `node` owns them all. */
  async #sendCopies(node: string, keyspaceName: string, entries: readonly HandoffEntry[]): Promise<boolean> {
    const timeout = (this.#options.directory.get(keyspaceName)?.config.writeTimeout ?? 5_000) + PEER_MARGIN_MS;
    const reply = await this.#client(node).request(
      { type: MessageType.HANDOFF, keyspace: keyspaceName, entries },
      timeout,
    );
    return reply.type === MessageType.OK && reply.flag;
  }

  /** `node`'s copy of `key`, as it holds it (no load there). */
  async #peek(node: string, keyspace: Keyspace, key: string): Promise<VersionedCopy | undefined> {
    const reply = await this.#client(node).request(
      { type: MessageType.PEEK, keyspace: keyspace.name, key },
      keyspace.config.readTimeout + PEER_MARGIN_MS,
    );
    if (reply.type !== MessageType.COPY)
      throw new DistCacheError(ErrorCode.PROTOCOL, `peer ${node} answered a PEEK with message type ${reply.type}`);
    return reply.copy;
  }

  /** Asks `node` to send the entries this node owns; resolves once it did. */
  async #requestSync(node: string, timeoutMs: number): Promise<void> {
    await this.#client(node).request({ type: MessageType.SYNC, requester: this.#selfId }, timeoutMs);
  }

  /**
   * The address this node's peer connections leave from: its own, so that a
   * node answering its reads can tell which member asked (see CopyHolders).
   */
  #sourceAddress(): string | undefined {
    const { host } = splitHostPort(this.#selfId);
    return isIP(host) === 0 ? undefined : host;
  }

  #client(id: string): PeerClient {
    let client = this.#clients.get(id);
    if (client === undefined) {
      client = new PeerClient(id, this.#security, {
        telemetry: this.#options.telemetry,
        localAddress: this.#sourceAddress(),
      });
      // Once stopped, work still settling (async copies past shutdownTimeout) fails here instead of opening a connection.
      if (this.#stopped) client.close();
      else this.#clients.set(id, client);
    }
    return client;
  }
}

/** Member ids grouped by the host of their peer address (nodes on one host share its address as the source of their connections). */
function membersByHost(members: readonly Member[]): Map<string, string[]> {
  const byHost = new Map<string, string[]>();
  for (const { id } of members) {
    const { host } = splitHostPort(id);
    const ids = byHost.get(host);
    if (ids === undefined) byHost.set(host, [id]);
    else ids.push(id);
  }
  return byHost;
}
