import { EventEmitter } from 'node:events';
import { DistCacheError, ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { createHost, type Libp2pHost } from './libp2p-host.js';
import type { SwimMessage } from './swim/messages.js';
import { SwimStateMachine, type SwimMember, type SwimOutput } from './swim/swim.js';
import type { SwimTiming } from './swim/timing.js';
import { SwimTransport } from './swim-transport.js';

/** alive: it answers probes; suspect: a probe failed and it has not refuted yet; dead: the suspicion timed out; left: it said goodbye. */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** One node of the cluster as this node sees it. */
export interface Member {
  /** The node's peer address `host:port`; also its identity for placement. */
  readonly id: string;
  /** Its discovery (libp2p) address `host:port`. */
  readonly discoveryAddress: string;
  /** Starts at its process's start time in ms, and grows each time it refutes a suspicion or announces a new digest. */
  readonly incarnation: number;
  readonly state: MemberState;
  /** Digest of its keyspace definitions. */
  readonly digest: string;
  /** Epoch ms this node last heard from it directly (a probe, an ack, any message it sent). */
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

/** How fast failures are noticed (SWIM), in ms: see {@link SwimTiming} for each field and its default. */
export type FailureDetection = SwimTiming;

export type MembershipChange = { kind: 'joined' | 'left' | 'updated'; member: Member };

/** Longest wait in {@link Membership.dial} for the join exchanges to be sent; they go on after it. */
const JOIN_WAIT_MS = 2_000;
/** Longest wait for the leave announcement to reach the peers before the host stops. */
const LEAVE_FLUSH_MS = 500;

/**
 * Who is in the cluster: SWIM failure detection (the pure state machine in
 * swim/) on a libp2p host on the discovery port. This class is its clock,
 * its timer and its network: it feeds the state machine messages, ticks and
 * commands, sends what it asks for, and reports membership changes as
 * `change` events, and `declaredDead` when this node learns others had
 * declared it dead (what it holds for the cluster may be stale).
 */
export class Membership extends EventEmitter<{
  change: [MembershipChange];
  declaredDead: [{ incarnation: number; by: string }];
}> {
  readonly #self: SelfDescription;
  readonly #logger: Logger;
  readonly #clusterKey: string | undefined;
  readonly #machine: SwimStateMachine;
  /** The libp2p peer behind each member id, learned from the connections their messages came on. */
  readonly #memberOfPeer = new Map<string, string>();
  /** Sends in progress, for stop() to let the leave go out. */
  readonly #sending = new Set<Promise<unknown>>();
  #host: Libp2pHost | undefined;
  #transport: SwimTransport | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;

  constructor(self: SelfDescription, timing: FailureDetection, clusterKey: string | undefined, logger: Logger) {
    super();
    this.#self = self;
    this.#clusterKey = clusterKey;
    this.#logger = logger;
    this.#machine = new SwimStateMachine({
      self: {
        id: self.id,
        address: `${self.discoveryHost}:${self.discoveryPort}`,
        incarnation: self.incarnation,
        meta: self.digest,
      },
      timing,
      random: Math.random,
      now: clock(),
    });
  }

  /** Starts the libp2p host and failure detection. */
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
    this.#transport = new SwimTransport(host, (message, peer) => this.#onMessage(message, peer), this.#logger);
    await this.#transport.start();
    host.addEventListener('peer:disconnect', (event) => this.#onDisconnect(String(event.detail)));
    this.#schedule();
  }

  /** Exchanges full state with the nodes at the discovery addresses not known alive yet (a join); failures are logged. */
  async dial(addresses: readonly string[]): Promise<void> {
    if (this.#host === undefined || this.#machine.left) return;
    const alive = new Set(
      this.#machine
        .members()
        .filter((member) => member.state === 'alive' || member.state === 'suspect')
        .map((member) => member.address),
    );
    const unknown = addresses.filter((address) => !alive.has(address));
    if (unknown.length === 0) return;
    const before = new Set(this.#sending);
    this.#run(this.#machine.join(clock(), unknown));
    const joins = [...this.#sending].filter((sending) => !before.has(sending));
    await atMost(JOIN_WAIT_MS, Promise.allSettled(joins));
  }

  /** This node as it announces itself now (its incarnation grows when it refutes). */
  get incarnation(): number {
    return this.#machine.self.incarnation;
  }

  /** Ids of the members not declared gone: alive or suspect, this node included. */
  aliveOrSuspectIds(): string[] {
    const ids = [this.#self.id];
    for (const member of this.#machine.members())
      if (member.state === 'alive' || member.state === 'suspect') ids.push(member.id);
    return ids;
  }

  /** Every member this node knows of, this node excluded. */
  members(): Member[] {
    return this.#machine.members().map(toMember);
  }

  /** Announces a new keyspace digest; peers report it as `updated`. */
  setDigest(digest: string): void {
    this.#run(this.#machine.setMeta(clock(), digest));
  }

  /** Announces the leave and stops probing; the host stays up (for the announcement) until {@link stop}. */
  leave(): void {
    this.#run(this.#machine.leave(clock()));
  }

  /** Leaves (if not done yet), lets the announcement go out (within LEAVE_FLUSH_MS), then stops the host. */
  async stop(): Promise<void> {
    const host = this.#host;
    if (host === undefined) return;
    this.leave();
    await atMost(LEAVE_FLUSH_MS, Promise.allSettled([...this.#sending]));
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#host = undefined;
    this.#transport?.close();
    await host.stop();
  }

  #onMessage(message: SwimMessage, peer: string): void {
    this.#memberOfPeer.set(peer, message.from.id);
    this.#run(this.#machine.receive(clock(), message));
  }

  /** Every connection to a member closed: a kill -9 looks like this, so probe it now. */
  #onDisconnect(peer: string): void {
    const id = this.#memberOfPeer.get(peer);
    this.#memberOfPeer.delete(peer);
    if (id !== undefined) this.#run(this.#machine.linkLost(clock(), id));
  }

  #tick(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#run(this.#machine.tick(clock()));
  }

  /** Carries out the state machine's outputs, then arms the timer for its next deadline. */
  #run(outputs: SwimOutput[]): void {
    for (const output of outputs) {
      if (output.type === 'send') this.#send(output.to, output.message);
      else if (output.type === 'declared-dead') {
        this.#logger.warn(
          { incarnation: output.incarnation, by: output.by },
          'other members had declared this node dead',
        );
        this.emit('declaredDead', { incarnation: output.incarnation, by: output.by });
      } else {
        const member = toMember(output.member);
        if (member.state === 'dead') this.#cutOff(member);
        this.#logger.info(
          { member: member.id, state: member.state, kind: output.type },
          `cluster member ${output.type}`,
        );
        this.emit('change', { kind: output.type, member });
      }
    }
    this.#schedule();
  }

  #send(address: string, message: SwimMessage): void {
    const transport = this.#transport;
    if (transport === undefined) return;
    const sending = transport.send(address, message).then((failure) => {
      if (failure === 'refused' && this.#host !== undefined) this.#run(this.#machine.undeliverable(clock(), message));
    });
    this.#sending.add(sending);
    void sending.finally(() => this.#sending.delete(sending));
  }

  /**
   * Aborts the connections to a member declared dead. Behind a partition a
   * TCP connection does not fail, it retransmits with a growing backoff, and
   * messages queued on it after the heal would wait for that backoff (many
   * seconds): a new connection carries the first ping to it at once.
   */
  #cutOff(member: Member): void {
    this.#transport?.drop(member.discoveryAddress);
    const host = this.#host;
    if (host === undefined) return;
    for (const [peer, id] of this.#memberOfPeer) {
      if (id !== member.id) continue;
      for (const connection of host.getConnections())
        if (String(connection.remotePeer) === peer) connection.abort(new Error('member declared dead'));
    }
  }

  /** One timer, at the state machine's next deadline. */
  #schedule(): void {
    if (this.#host === undefined) return;
    const at = this.#machine.nextDeadline();
    if (at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, Math.ceil(at - clock())));
  }
}

/** Waits for `work`, but no longer than `ms`. */
async function atMost(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Monotonic ms on the epoch scale: timers must not jump with the wall clock. */
function clock(): number {
  return performance.timeOrigin + performance.now();
}

function toMember(member: SwimMember): Member {
  return {
    id: member.id,
    discoveryAddress: member.address,
    incarnation: member.incarnation,
    state: member.state,
    digest: member.meta,
    lastSeen: member.lastHeardAt,
  };
}
