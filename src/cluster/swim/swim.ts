import { Awareness } from './awareness.js';
import { MemberStates, view } from './member-states.js';
import { isLive, type MemberEntry } from './member-table.js';
import type { Identity, Rumour, SwimMessage } from './messages.js';
import { Outbox, type SwimMember, type SwimOutput } from './outbox.js';
import { RumourQueue } from './rumour-queue.js';
import {
  FIRST_SYNC_DELAY,
  GOSSIP_FANOUT,
  GOSSIP_INTERVAL,
  LEAVE_FANOUT,
  MAX_INCARNATION_LEAD,
  RECONNECT_INTERVAL,
  syncInterval,
  type SwimTiming,
} from './timing.js';

export type { SwimMember, SwimOutput };

export interface SwimOptions {
  /**
   * This node. Its incarnation must exceed any earlier process's with the same id, and not be ahead of the clock
   * by MAX_INCARNATION_LEAD: a start time in ms does both.
   */
  readonly self: Identity;
  readonly timing: SwimTiming;
  /** Uniform in [0, 1): Math.random, or a seeded generator for a deterministic run. */
  readonly random: () => number;
  /** The clock at creation, in ms, on the same scale as every later input. */
  readonly now: number;
}

/** One probe in progress: a direct ping, then ping requests through other members. */
interface Probe {
  readonly seq: number;
  readonly target: string;
  readonly address: string;
  /** The target's incarnation when the probe started: a failure suspects that one. */
  readonly incarnation: number;
  readonly directDeadline: number;
  readonly end: number;
  indirect: boolean;
  /** The owner could not deliver the direct ping at all. */
  refused: boolean;
  expectedNacks: number;
  nacks: number;
}

/** A ping this node sends for another member's ping request. */
interface Relay {
  readonly requester: string;
  readonly seq: number;
  readonly deadline: number;
}

/**
 * One node's SWIM membership, as a pure state machine in the style of
 * hashicorp/memberlist with Lifeguard's refinements: no sockets, no timers,
 * no clock inside. Inputs are messages, ticks and commands, each with the
 * time; each returns what to send (to an address) and the membership changes.
 * The owner calls {@link tick} at {@link nextDeadline}. Given the same inputs
 * and random numbers, it does the same thing.
 *
 * Each period it probes one member (round-robin in a random order); without
 * an ack in time it asks `indirectChecks` others to probe; without any ack by
 * the period's end it suspects the member. A suspicion lasts a time that
 * grows with log N and shrinks with independent confirmations, unless the
 * member refutes it with a higher incarnation; then the member is dead.
 * Changes spread as rumours piggybacked on every message (and on gossip
 * messages while any are queued), each sent about 4·log10(N) times.
 */
export class SwimStateMachine {
  readonly #timing: SwimTiming;
  readonly #random: () => number;
  readonly #awareness = new Awareness();
  readonly #out: Outbox;
  readonly #states: MemberStates;
  readonly #probes = new Map<number, Probe>();
  readonly #relays = new Map<number, Relay>();
  #nextProbeAt: number;
  #nextGossipAt: number;
  #nextSyncAt: number;
  #nextMaintenanceAt: number;
  /** When the owner was last told to tick: a tick far later means this process was paused. */
  #dueAt: number;

  constructor(options: SwimOptions) {
    const { now, timing, random } = options;
    this.#timing = timing;
    this.#random = random;
    const rumours = new RumourQueue();
    this.#out = new Outbox(
      () => this.#states.self,
      rumours,
      () => this.#states.clusterSize(),
    );
    this.#states = new MemberStates(options.self, timing, random, {
      rumours,
      awareness: this.#awareness,
      out: this.#out,
    });
    // Random phases, so nodes started together do not probe, sync and reconnect in step.
    this.#nextProbeAt = now + Math.floor(random() * timing.probeInterval);
    this.#nextGossipAt = now;
    // The first full-state exchange comes early: it catches what the rumours of a join storm missed.
    this.#nextSyncAt = this.#soonSyncAt(now);
    this.#nextMaintenanceAt = now + Math.floor(random() * RECONNECT_INTERVAL);
    this.#dueAt = this.nextDeadline();
  }

  /** This node as it currently introduces itself. */
  get self(): Identity {
    return this.#states.self;
  }

  /** Whether {@link leave} was called. */
  get left(): boolean {
    return this.#states.left;
  }

  /** Lifeguard's local health score: 0 is healthy; probe timing is scaled by score + 1. */
  get awareness(): number {
    return this.#awareness.score;
  }

  /** Every member this node knows of, itself excluded. */
  members(): SwimMember[] {
    return [...this.#states.table.entries()].map(view);
  }

  /** One member, or undefined. */
  member(id: string): SwimMember | undefined {
    const entry = this.#states.table.get(id);
    return entry === undefined ? undefined : view(entry);
  }

  /** The latest time by which {@link tick} must be called (Infinity: only when a message comes). */
  nextDeadline(): number {
    const { table, left, rumours } = this.#states;
    let next = Math.min(left ? Infinity : this.#nextProbeAt, this.#states.nextSuspicionDeadline());
    for (const probe of this.#probes.values()) next = Math.min(next, probe.indirect ? probe.end : probe.directDeadline);
    for (const relay of this.#relays.values()) next = Math.min(next, relay.deadline);
    if (rumours.size > 0) next = Math.min(next, this.#nextGossipAt);
    if (!left && table.liveCount > 0) next = Math.min(next, this.#nextSyncAt);
    if (!left && table.liveCount < table.size) next = Math.min(next, this.#nextMaintenanceAt);
    return next;
  }

  /** Runs what is due at `now`: probe steps, suspicion timeouts, gossip, full-state exchanges. */
  tick(now: number): SwimOutput[] {
    const lag = now - this.#dueAt;
    if (lag > this.#timing.probeInterval) this.#recoverFromPause(now, lag);
    this.#advanceProbes(now);
    this.#expireRelays(now);
    this.#states.expireSuspicions(now);
    if (!this.left) this.#periodic(now);
    if (this.#states.rumours.size > 0 && now >= this.#nextGossipAt) {
      this.#nextGossipAt = now + GOSSIP_INTERVAL;
      this.#gossip();
    }
    return this.#flush(now);
  }

  /** Handles a message from another node; news of an incarnation past MAX_INCARNATION_LEAD is ignored. */
  receive(now: number, message: SwimMessage): SwimOutput[] {
    const horizon = now + MAX_INCARNATION_LEAD;
    if (message.from.incarnation > horizon) return this.#flush(now);
    this.#states.hearFrom(now, message.from);
    for (const rumour of message.rumours) if (rumour.incarnation <= horizon) this.#states.apply(now, rumour);
    switch (message.type) {
      case 'ping':
        if (message.target === this.self.id) this.#out.send(message.from.address, { type: 'ack', seq: message.seq });
        break;
      case 'ack':
        this.#onAck(message.seq);
        break;
      case 'nack':
        this.#onNack(now, message.seq);
        break;
      case 'ping-req':
        if (!this.left) this.#relay(now, message);
        break;
      case 'sync': {
        const believable = message.members.filter((member) => member.incarnation <= horizon);
        // A view still growing (a join storm) is compared again soon, not in syncInterval.
        if (this.#states.merge(now, believable, message.from.id) > 0)
          this.#nextSyncAt = Math.min(this.#nextSyncAt, this.#soonSyncAt(now));
        if (!message.reply) this.#sendSync(message.from.address, true);
        break;
      }
      case 'gossip':
        break;
    }
    return this.#flush(now);
  }

  /**
   * The owner could not deliver `message` at all (connection refused, no
   * route): a ping then fails at once instead of at its timeout.
   */
  undeliverable(now: number, message: SwimMessage): SwimOutput[] {
    if (message.type === 'ping') {
      const probe = this.#probes.get(message.seq);
      if (probe !== undefined && !probe.indirect) {
        probe.refused = true;
        this.#goIndirect(now, probe);
      }
      const relay = this.#relays.get(message.seq);
      if (relay !== undefined) {
        this.#relays.delete(message.seq);
        this.#out.send(relay.requester, { type: 'nack', seq: relay.seq });
      }
    } else if (message.type === 'ping-req') {
      const probe = this.#probes.get(message.seq);
      if (probe?.indirect) {
        probe.expectedNacks--;
        this.#concludeIfAllNacked(now, probe);
      }
    }
    return this.#flush(now);
  }

  /** The owner saw its connection to member `id` close: probe it now rather than in its turn. */
  linkLost(now: number, id: string): SwimOutput[] {
    const entry = this.#states.table.get(id);
    if (!this.left && entry !== undefined && isLive(entry.state)) this.#startProbe(now, entry);
    return this.#flush(now);
  }

  /** Exchanges full state with the nodes at `addresses` (push/pull), to join through them. */
  join(now: number, addresses: readonly string[]): SwimOutput[] {
    for (const address of addresses) if (address !== this.self.address) this.#sendSync(address, false);
    return this.#flush(now);
  }

  /** Announces the leave: straight to up to {@link LEAVE_FANOUT} members, then by gossip. Stops probing. */
  leave(now: number): SwimOutput[] {
    if (this.left) return [];
    const rumour = this.#states.leave();
    this.#probes.clear();
    this.#relays.clear();
    for (const member of this.#states.table.randomLive(LEAVE_FANOUT, undefined))
      this.#out.send(member.address, { type: 'gossip' }, [rumour]);
    return this.#flush(now);
  }

  /** Announces new metadata (a new incarnation carries it). */
  setMeta(now: number, meta: string): SwimOutput[] {
    if (meta === this.self.meta || this.left) return [];
    this.#states.setMeta(meta);
    return this.#flush(now);
  }

  /** The next probe, the full-state exchange, and the care of dead members, each when due. */
  #periodic(now: number): void {
    const { table } = this.#states;
    if (now >= this.#nextProbeAt) {
      this.#nextProbeAt = now + this.#awareness.scaled(this.#timing.probeInterval);
      const target = table.nextToProbe();
      if (target !== undefined) this.#startProbe(now, target);
    }
    if (now >= this.#nextSyncAt) {
      this.#nextSyncAt = now + syncInterval(this.#states.clusterSize());
      const [partner] = table.randomLive(1, (entry) => entry.state === 'alive');
      if (partner !== undefined) this.#sendSync(partner.address, false);
    }
    if (now >= this.#nextMaintenanceAt) {
      // Each node keeps its own phase, so nodes that lost members together do not all reconnect at once.
      const missed = Math.floor((now - this.#nextMaintenanceAt) / RECONNECT_INTERVAL) + 1;
      this.#nextMaintenanceAt += missed * RECONNECT_INTERVAL;
      if (table.liveCount < table.size) {
        this.#states.forgetGone(now);
        this.#states.pingDead(1);
      }
    }
  }

  #startProbe(now: number, target: MemberEntry): void {
    for (const probe of this.#probes.values()) if (probe.target === target.id) return;
    const seq = this.#out.nextSeq();
    this.#probes.set(seq, {
      seq,
      target: target.id,
      address: target.address,
      incarnation: target.incarnation,
      directDeadline: now + this.#awareness.scaled(this.#timing.probeTimeout),
      end: now + this.#awareness.scaled(this.#timing.probeInterval),
      indirect: false,
      refused: false,
      expectedNacks: 0,
      nacks: 0,
    });
    // A suspect learns of it with the ping, so it can refute at once.
    const extra: Rumour[] =
      target.state === 'suspect'
        ? [{ type: 'suspect', id: target.id, incarnation: target.incarnation, from: this.self.id }]
        : [];
    this.#out.send(target.address, { type: 'ping', seq, target: target.id }, extra);
  }

  #advanceProbes(now: number): void {
    for (const probe of this.#probes.values()) {
      if (!probe.indirect && now >= probe.directDeadline) this.#goIndirect(now, probe);
      if (probe.indirect && now >= probe.end) this.#probeFailed(now, probe);
    }
  }

  /** No ack in time: ask up to `indirectChecks` alive members to ping the target for us. */
  #goIndirect(now: number, probe: Probe): void {
    probe.indirect = true;
    const helpers = this.#states.table.randomLive(
      this.#timing.indirectChecks,
      (entry) => entry.state === 'alive' && entry.id !== probe.target,
    );
    probe.expectedNacks = helpers.length;
    for (const helper of helpers)
      this.#out.send(helper.address, {
        type: 'ping-req',
        seq: probe.seq,
        target: probe.target,
        targetAddress: probe.address,
      });
    this.#concludeIfAllNacked(now, probe);
  }

  #onAck(seq: number): void {
    if (this.#probes.delete(seq)) this.#awareness.adjust(-1);
    const relay = this.#relays.get(seq);
    if (relay !== undefined) {
      this.#relays.delete(seq);
      this.#out.send(relay.requester, { type: 'ack', seq: relay.seq });
    }
  }

  #onNack(now: number, seq: number): void {
    const probe = this.#probes.get(seq);
    if (probe === undefined || !probe.indirect) return;
    probe.nacks++;
    this.#concludeIfAllNacked(now, probe);
  }

  /**
   * The target refused the ping, or intermediaries reported they could not
   * reach it either, and every expected nack is in: no need to wait for the
   * period's end.
   */
  #concludeIfAllNacked(now: number, probe: Probe): void {
    if (probe.nacks >= probe.expectedNacks && (probe.refused || probe.nacks > 0)) this.#probeFailed(now, probe);
  }

  /** Nobody reached the target: suspect it, and tell it so it can refute if it is only slow. */
  #probeFailed(now: number, probe: Probe): void {
    this.#probes.delete(probe.seq);
    // Missing nacks hint that this node, not the target, is the slow one (Lifeguard).
    this.#awareness.adjust(probe.expectedNacks > 0 ? probe.expectedNacks - probe.nacks : 1);
    const entry = this.#states.table.get(probe.target);
    if (entry === undefined || !isLive(entry.state)) return;
    const rumour: Rumour = { type: 'suspect', id: probe.target, incarnation: probe.incarnation, from: this.self.id };
    this.#states.applySuspect(now, rumour);
    this.#out.send(entry.address, { type: 'gossip' }, [rumour]);
  }

  /** Pings a ping request's target for its requester, relaying the ack, or a nack after probeTimeout. */
  #relay(now: number, request: Extract<SwimMessage, { type: 'ping-req' }>): void {
    const seq = this.#out.nextSeq();
    this.#relays.set(seq, {
      requester: request.from.address,
      seq: request.seq,
      deadline: now + this.#timing.probeTimeout,
    });
    this.#out.send(request.targetAddress, { type: 'ping', seq, target: request.target });
  }

  #expireRelays(now: number): void {
    for (const [seq, relay] of this.#relays) {
      if (relay.deadline > now) continue;
      this.#relays.delete(seq);
      this.#out.send(relay.requester, { type: 'nack', seq: relay.seq });
    }
  }

  /**
   * The tick came long after it was due: this process was paused or starved.
   * Probes in flight and relays prove nothing about their targets, and
   * refutations could not be heard meanwhile, so suspicions get the time back.
   */
  #recoverFromPause(now: number, lag: number): void {
    this.#probes.clear();
    this.#relays.clear();
    this.#states.postponeSuspicions(lag);
    this.#nextProbeAt = Math.min(this.#nextProbeAt, now);
    this.#awareness.adjust(1);
  }

  #gossip(): void {
    for (const member of this.#states.table.randomLive(GOSSIP_FANOUT, undefined)) {
      if (this.#states.rumours.size === 0) return;
      this.#out.send(member.address, { type: 'gossip' });
    }
  }

  /** A time 0.5-1 × FIRST_SYNC_DELAY from now. */
  #soonSyncAt(now: number): number {
    return now + Math.floor(FIRST_SYNC_DELAY * (0.5 + this.#random() / 2));
  }

  #sendSync(to: string, reply: boolean): void {
    this.#out.send(to, { type: 'sync', reply, members: this.#states.records() });
  }

  #flush(now: number): SwimOutput[] {
    this.#dueAt = Math.max(now, this.nextDeadline());
    return this.#out.flush();
  }
}
