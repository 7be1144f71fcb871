import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { DistCacheError, ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { createHost, toMultiaddr, type Libp2pHost } from './libp2p-host.js';

/** alive: heartbeats arrive; suspect: they stopped, a probe is out; dead: the probe failed; left: it said goodbye. */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** One node of the cluster as this node sees it. */
export interface Member {
  /** The node's peer address `host:port`; also its identity for placement. */
  readonly id: string;
  /** Its discovery (libp2p) address `host:port`. */
  readonly discoveryAddress: string;
  /** Start time of its process: a restarted node has a higher one. */
  readonly incarnation: number;
  readonly state: MemberState;
  /** Digest of its keyspace definitions. */
  readonly digest: string;
  /** Epoch ms of its last heartbeat or successful probe. */
  readonly lastSeen: number;
}

/** This node, as it announces itself. */
export interface SelfDescription {
  readonly id: string;
  readonly discoveryHost: string;
  readonly discoveryPort: number;
  readonly incarnation: number;
  readonly digest: string;
}

/** How fast failures are noticed. Defaults: heartbeat 500 ms, suspect after 1500 ms, probe timeout 1000 ms. */
export interface FailureDetection {
  readonly heartbeatInterval: number;
  readonly suspectAfter: number;
  readonly probeTimeout: number;
}

export type MembershipChange = { kind: 'joined' | 'left' | 'updated'; member: Member };

const MEMBERS_TOPIC = 'distcache/members/1';
/** Time the host stays up after the leave announcement so it reaches the peers. */
const LEAVE_FLUSH_MS = 50;
const address = z
  .string()
  .min(3)
  .max(300)
  .regex(/^.+:\d{1,5}$/);
/** Messages are unsigned, and gossipsub then drops repeats of identical bytes: every message carries a sequence number. */
const sequence = z.number().int().nonnegative();
const memberMessage = z.strictObject({
  kind: z.enum(['heartbeat', 'leave']),
  id: address,
  /** The libp2p peer id, to match connection events to the member. */
  peer: z.string().max(128),
  discovery: address,
  incarnation: z.number().int().nonnegative(),
  digest: z.string().max(128),
  seq: sequence,
});

interface MemberRecord {
  id: string;
  discoveryAddress: string;
  incarnation: number;
  state: MemberState;
  digest: string;
  lastSeen: number;
  /** The libp2p peer that sends its heartbeats, to probe it directly. */
  peer: string;
  probing: boolean;
}

/**
 * Who is in the cluster: a libp2p host on the discovery port, heartbeats on a
 * gossipsub topic, and direct libp2p pings for members whose heartbeats
 * stopped (alive → suspect → dead). Emits `change` for every transition.
 */
export class Membership extends EventEmitter<{ change: [MembershipChange] }> {
  #self: SelfDescription;
  readonly #detection: FailureDetection;
  readonly #logger: Logger;
  readonly #clusterKey: string | undefined;
  readonly #members = new Map<string, MemberRecord>();
  #host: Libp2pHost | undefined;
  #timer: NodeJS.Timeout | undefined;
  #leftAt: number | undefined;
  readonly #encoder = new TextEncoder();
  #sequence = 0;
  readonly #decoder = new TextDecoder();

  constructor(self: SelfDescription, detection: FailureDetection, clusterKey: string | undefined, logger: Logger) {
    super();
    this.#self = self;
    this.#detection = detection;
    this.#clusterKey = clusterKey;
    this.#logger = logger;
  }

  /** Starts the libp2p host and the heartbeat. */
  async start(): Promise<void> {
    const { discoveryHost, discoveryPort } = this.#self;
    let host: Libp2pHost;
    try {
      host = await createHost(discoveryHost, discoveryPort, this.#clusterKey);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new DistCacheError(
        ErrorCode.INVALID_CONFIG,
        `discovery port: cannot listen on ${discoveryHost}:${discoveryPort} (${reason}); change bindAddr or discoveryPort`,
        { cause: error },
      );
    }
    this.#host = host;
    host.services.pubsub.subscribe(MEMBERS_TOPIC);
    host.services.pubsub.addEventListener('message', (event) => this.#onMessage(event.detail.topic, event.detail.data));
    host.addEventListener('peer:disconnect', (event) => this.#onDisconnect(String(event.detail)));
    this.#timer = setInterval(() => this.#tick(), this.#detection.heartbeatInterval);
    this.#publish(MEMBERS_TOPIC, this.#announcement('heartbeat'));
  }

  /** Connects to the discovery addresses not connected yet; failures are logged, not thrown. */
  async dial(addresses: readonly string[]): Promise<void> {
    const host = this.#host;
    if (host === undefined) return;
    const own = `${this.#self.discoveryHost}:${this.#self.discoveryPort}`;
    const connected = new Set(
      [...this.#members.values()].filter((member) => member.state === 'alive').map((member) => member.discoveryAddress),
    );
    await Promise.all(
      addresses
        .filter((candidate) => candidate !== own && !connected.has(candidate))
        .map(async (candidate) => {
          try {
            await host.dial(toMultiaddr(candidate), { signal: AbortSignal.timeout(this.#detection.probeTimeout * 2) });
          } catch (error) {
            this.#logger.debug(
              { address: candidate, err: (error as Error).message },
              'discovery address not reachable',
            );
          }
        }),
    );
    this.#publish(MEMBERS_TOPIC, this.#announcement('heartbeat'));
  }

  /** Ids of the members not declared gone: alive or suspect, this node included. */
  aliveOrSuspectIds(): string[] {
    const ids = [this.#self.id];
    for (const member of this.#members.values())
      if (member.state === 'alive' || member.state === 'suspect') ids.push(member.id);
    return ids;
  }

  /** Announces a new keyspace digest at once; the other members report this node `updated`. */
  setDigest(digest: string): void {
    this.#self = { ...this.#self, digest };
    if (this.#leftAt === undefined) this.#publish(MEMBERS_TOPIC, this.#announcement('heartbeat'));
  }

  /** Every member this node knows of, this node excluded. */
  members(): Member[] {
    return [...this.#members.values()].map(({ peer: _peer, probing: _probing, ...member }) => member);
  }

  /** Stops the heartbeat and announces the leave; the host stays up (for gossip) until {@link stop}. */
  leave(): void {
    if (this.#leftAt !== undefined) return;
    clearInterval(this.#timer);
    this.#leftAt = Date.now();
    this.#publish(MEMBERS_TOPIC, this.#announcement('leave'));
  }

  /** Leaves (if not done yet), then stops the libp2p host. */
  async stop(): Promise<void> {
    const host = this.#host;
    if (host === undefined) return;
    this.leave();
    const flushWait = this.#leftAt! + LEAVE_FLUSH_MS - Date.now();
    if (flushWait > 0) await new Promise((resolve) => setTimeout(resolve, flushWait)); // let the leave leave the socket
    this.#host = undefined;
    await host.stop();
  }

  #announcement(kind: 'heartbeat' | 'leave') {
    const { id, discoveryHost, discoveryPort, incarnation, digest } = this.#self;
    return {
      kind,
      id,
      peer: String(this.#host?.peerId ?? ''),
      discovery: `${discoveryHost}:${discoveryPort}`,
      incarnation,
      digest,
      seq: this.#sequence++,
    };
  }

  #publish(topic: string, message: unknown): void {
    this.#host?.services.pubsub
      .publish(topic, this.#encoder.encode(JSON.stringify(message)))
      .catch((error: unknown) => {
        this.#logger.debug({ topic, err: (error as Error).message }, 'gossip publish failed');
      });
  }

  #onMessage(topic: string, data: Uint8Array): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.#decoder.decode(data));
    } catch {
      this.#logger.debug({ topic }, 'ignored a gossip message that is not JSON');
      return;
    }
    const message = memberMessage.safeParse(parsed);
    if (!message.success) return this.#logger.debug({ topic }, 'ignored a malformed member message');
    if (message.data.id !== this.#self.id) this.#onAnnouncement(message.data, message.data.peer);
  }

  #onAnnouncement(message: z.infer<typeof memberMessage>, peer: string): void {
    const known = this.#members.get(message.id);
    if (known !== undefined && message.incarnation < known.incarnation) return; // an old process's late message
    const state: MemberState = message.kind === 'leave' ? 'left' : 'alive';
    const record: MemberRecord = {
      id: message.id,
      discoveryAddress: message.discovery,
      incarnation: message.incarnation,
      state,
      digest: message.digest,
      lastSeen: Date.now(),
      peer,
      probing: known?.probing ?? false,
    };
    this.#members.set(message.id, record);
    if (known === undefined || (isGone(known.state) && !isGone(state))) {
      if (state === 'alive') this.#changed('joined', record);
    } else if (!isGone(known.state) && isGone(state)) {
      this.#changed('left', record);
    } else if (
      known.digest !== record.digest ||
      known.incarnation !== record.incarnation ||
      known.state !== record.state
    ) {
      this.#changed('updated', record);
    }
  }

  #tick(): void {
    this.#publish(MEMBERS_TOPIC, this.#announcement('heartbeat'));
    const now = Date.now();
    for (const member of this.#members.values()) {
      if (member.state === 'alive' && now - member.lastSeen > this.#detection.suspectAfter) void this.#probe(member);
    }
  }

  #onDisconnect(peer: string): void {
    for (const member of this.#members.values()) {
      if (member.peer === peer && member.state === 'alive') void this.#probe(member);
    }
  }

  /** Pings a member directly: alive again on an answer, dead without one. */
  async #probe(member: MemberRecord): Promise<void> {
    const host = this.#host;
    if (host === undefined || member.probing) return;
    member.probing = true;
    if (member.state === 'alive') {
      member.state = 'suspect';
      this.#changed('updated', member);
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#detection.probeTimeout);
    try {
      await host.services.ping.ping(toMultiaddr(member.discoveryAddress), { signal: controller.signal });
      if (member.state === 'suspect') {
        member.state = 'alive';
        member.lastSeen = Date.now();
        this.#changed('updated', member);
      }
    } catch {
      if (member.state === 'suspect') {
        member.state = 'dead';
        this.#changed('left', member);
      }
    } finally {
      clearTimeout(timer);
      member.probing = false;
    }
  }

  #changed(kind: MembershipChange['kind'], record: MemberRecord): void {
    const { peer: _peer, probing: _probing, ...member } = record;
    this.#logger.info({ member: member.id, state: member.state, kind }, `cluster member ${kind}`);
    this.emit('change', { kind, member });
  }
}

function isGone(state: MemberState): boolean {
  return state === 'dead' || state === 'left';
}
