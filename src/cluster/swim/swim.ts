import { isLive, MemberTable, type MemberEntry } from './member-table.js';
import type { Identity, MemberRecord, Rumour, SwimMessage, Sync } from './messages.js';
import { RumourQueue } from './rumour-queue.js';
import { Suspicion } from './suspicion.js';
import {
  AWARENESS_MAX,
  DEAD_RETENTION,
  FIRST_SYNC_DELAY,
  GOSSIP_FANOUT,
  GOSSIP_INTERVAL,
  LEAVE_FANOUT,
  LEFT_RETENTION,
  MAX_PIGGYBACK,
  RECONNECT_INTERVAL,
  retransmitLimit,
  SUSPICION_MAX_MULTIPLIER,
  suspicionTimeout,
  syncInterval,
  type SwimTiming,
} from './timing.js';

/** A member as this node sees it. */
export interface SwimMember extends MemberRecord {
  /** Time of its last state change. */
  readonly stateChangedAt: number;
  /** Time this node last heard from it directly. */
  readonly lastHeardAt: number;
}

/** What the state machine asks its owner to do or tells it happened. */
export type SwimOutput =
  | { readonly type: 'send'; readonly to: string; readonly message: SwimMessage }
  /** Joined: new, or back from dead or left. Left: dead or left. Updated: suspect, alive again, or new metadata. */
  | { readonly type: 'joined' | 'updated' | 'left'; readonly member: SwimMember }
  /**
   * Another member declared this node dead (it refuted already). Whatever the
   * owner held for the cluster meanwhile may be stale: others acted without it.
   */
  | { readonly type: 'declared-dead'; readonly incarnation: number; readonly by: string };

export interface SwimOptions {
  /** This node. Its incarnation must exceed any earlier process's with the same id (a start time in ms does). */
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
  readonly #table: MemberTable;
  readonly #rumours = new RumourQueue();
  readonly #probes = new Map<number, Probe>();
  readonly #relays = new Map<number, Relay>();
  readonly #suspects = new Set<MemberEntry>();
  #self: Identity;
  /** This process's first incarnation: news about earlier ones concerns an earlier process. */
  readonly #startIncarnation: number;
  /** The highest incarnation at which this node was reported declared dead. */
  #reportedDeath = -1;
  #left = false;
  #seq = 0;
  /** Lifeguard's local health: failed probes without nacks and refutations raise it, acks lower it. */
  #awareness = 0;
  #nextProbeAt: number;
  #nextGossipAt: number;
  #nextSyncAt: number;
  #nextMaintenanceAt: number;
  /** When the owner was last told to tick: a tick far later means this process was paused. */
  #dueAt: number;
  #out: SwimOutput[] = [];

  constructor(options: SwimOptions) {
    this.#self = options.self;
    this.#startIncarnation = options.self.incarnation;
    this.#timing = options.timing;
    this.#random = options.random;
    this.#table = new MemberTable(options.random);
    const { now } = options;
    // Random phases, so nodes started together do not probe and sync in step.
    this.#nextProbeAt = now + Math.floor(this.#random() * this.#timing.probeInterval);
    this.#nextGossipAt = now;
    // The first full-state exchange comes early: it catches what the rumours of a join storm missed.
    this.#nextSyncAt = now + Math.floor(FIRST_SYNC_DELAY * (0.5 + this.#random() / 2));
    this.#nextMaintenanceAt = now + Math.floor(this.#random() * RECONNECT_INTERVAL);
    this.#dueAt = this.nextDeadline();
  }

  /** This node as it currently introduces itself. */
  get self(): Identity {
    return this.#self;
  }

  /** Whether {@link leave} was called. */
  get left(): boolean {
    return this.#left;
  }

  /** Lifeguard's local health score: 0 is healthy; probe timing is scaled by score + 1. */
  get awareness(): number {
    return this.#awareness;
  }

  /** Every member this node knows of, itself excluded. */
  members(): SwimMember[] {
    return [...this.#table.entries()].map(view);
  }

  /** One member, or undefined. */
  member(id: string): SwimMember | undefined {
    const entry = this.#table.get(id);
    return entry === undefined ? undefined : view(entry);
  }

  /** The latest time by which {@link tick} must be called. */
  nextDeadline(): number {
    let next = this.#left ? Infinity : this.#nextProbeAt;
    for (const probe of this.#probes.values()) next = Math.min(next, probe.indirect ? probe.end : probe.directDeadline);
    for (const relay of this.#relays.values()) next = Math.min(next, relay.deadline);
    for (const suspect of this.#suspects) next = Math.min(next, suspect.suspicion!.deadline);
    if (this.#rumours.size > 0) next = Math.min(next, this.#nextGossipAt);
    if (!this.#left && this.#table.liveCount > 0) next = Math.min(next, this.#nextSyncAt);
    if (!this.#left && this.#table.liveCount < this.#table.size) next = Math.min(next, this.#nextMaintenanceAt);
    return next;
  }

  /** Runs what is due at `now`: probe steps, suspicion timeouts, gossip, full-state exchanges. */
  tick(now: number): SwimOutput[] {
    const lag = now - this.#dueAt;
    if (lag > this.#timing.probeInterval) this.#recoverFromPause(now, lag);
    this.#advanceProbes(now);
    this.#expireRelays(now);
    this.#expireSuspicions(now);
    if (!this.#left && now >= this.#nextProbeAt) {
      this.#nextProbeAt = now + this.#scaled(this.#timing.probeInterval);
      const target = this.#table.nextToProbe();
      if (target !== undefined) this.#startProbe(now, target);
    }
    if (this.#rumours.size > 0 && now >= this.#nextGossipAt) {
      this.#nextGossipAt = now + GOSSIP_INTERVAL;
      this.#gossip();
    }
    if (!this.#left && now >= this.#nextSyncAt) {
      this.#nextSyncAt = now + syncInterval(this.#clusterSize());
      const [partner] = this.#table.randomLive(1, (entry) => entry.state === 'alive');
      if (partner !== undefined) this.#sendSync(partner.address, false);
    }
    if (!this.#left && now >= this.#nextMaintenanceAt) {
      // Each node keeps its own phase, so nodes that lost members together do not all reconnect at once.
      const missed = Math.floor((now - this.#nextMaintenanceAt) / RECONNECT_INTERVAL) + 1;
      this.#nextMaintenanceAt += missed * RECONNECT_INTERVAL;
      if (this.#table.liveCount < this.#table.size) this.#maintain(now);
    }
    return this.#flush(now);
  }

  /** Handles a message from another node. */
  receive(now: number, message: SwimMessage): SwimOutput[] {
    this.#hearFrom(now, message.from);
    for (const rumour of message.rumours) this.#apply(now, rumour);
    switch (message.type) {
      case 'ping':
        if (message.target === this.#self.id) this.#send(message.from.address, { type: 'ack', seq: message.seq });
        break;
      case 'ack':
        this.#onAck(message.seq);
        break;
      case 'nack':
        this.#onNack(now, message.seq);
        break;
      case 'ping-req':
        if (!this.#left) this.#relay(now, message.from.address, message.seq, message.target, message.targetAddress);
        break;
      case 'sync':
        this.#merge(now, message);
        break;
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
        this.#send(relay.requester, { type: 'nack', seq: relay.seq });
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
    const entry = this.#table.get(id);
    if (!this.#left && entry !== undefined && isLive(entry.state)) this.#startProbe(now, entry);
    return this.#flush(now);
  }

  /** Exchanges full state with the nodes at `addresses` (push/pull), to join through them. */
  join(now: number, addresses: readonly string[]): SwimOutput[] {
    for (const address of addresses) if (address !== this.#self.address) this.#sendSync(address, false);
    return this.#flush(now);
  }

  /** Announces the leave: straight to up to {@link LEAVE_FANOUT} members, then by gossip. Stops probing. */
  leave(now: number): SwimOutput[] {
    if (this.#left) return [];
    this.#left = true;
    this.#probes.clear();
    this.#relays.clear();
    const rumour: Rumour = {
      type: 'dead',
      id: this.#self.id,
      incarnation: this.#self.incarnation,
      from: this.#self.id,
    };
    this.#rumours.add(rumour);
    for (const member of this.#table.randomLive(LEAVE_FANOUT, undefined))
      this.#out.push({
        type: 'send',
        to: member.address,
        message: { type: 'gossip', from: this.#self, rumours: [rumour] },
      });
    return this.#flush(now);
  }

  /** Announces new metadata (a new incarnation carries it). */
  setMeta(now: number, meta: string): SwimOutput[] {
    if (meta === this.#self.meta || this.#left) return [];
    this.#self = { ...this.#self, meta, incarnation: this.#self.incarnation + 1 };
    this.#rumours.add(aliveRumour(this.#self));
    return this.#flush(now);
  }

  // --- rumours -------------------------------------------------------------

  #apply(now: number, rumour: Rumour): void {
    if (rumour.type === 'alive') this.#applyAlive(now, rumour, 'rumour');
    else if (rumour.type === 'suspect') this.#applySuspect(now, rumour);
    else this.#applyDead(now, rumour);
  }

  /** A message's sender speaks for itself: news of it, and if it is behind on its own fate, tell it. */
  /**
   * A message's sender speaks for itself. If it is behind on its own fate
   * (suspect or dead here), or back from the dead through a refutation made
   * before it heard of its death, tell it, so it refutes, or learns it was
   * declared dead.
   */
  #hearFrom(now: number, sender: Identity): void {
    const entry = this.#table.get(sender.id);
    const before = entry === undefined ? undefined : { state: entry.state, incarnation: entry.incarnation };
    this.#applyAlive(now, sender, 'itself');
    if (entry === undefined || before === undefined) return;
    let fate: Rumour | undefined;
    if (entry.incarnation === sender.incarnation && (entry.state === 'suspect' || entry.state === 'dead'))
      fate = { type: entry.state, id: entry.id, incarnation: entry.incarnation, from: this.#self.id };
    else if (before.state === 'dead' && entry.state === 'alive')
      fate = { type: 'dead', id: entry.id, incarnation: before.incarnation, from: this.#self.id };
    if (fate !== undefined) this.#send(sender.address, { type: 'gossip' }, [fate]);
  }

  /**
   * News that a member is alive: from the member itself (a message's
   * sender), a rumour, or another node's full state. Only the first two are
   * gossiped on: in a full-state exchange each third party's own rumours
   * already carry its news, and re-gossiping whole tables would flood the
   * queues on every join.
   */
  #applyAlive(now: number, alive: Identity, source: 'itself' | 'rumour' | 'sync'): void {
    if (alive.id === this.#self.id) {
      const differs = alive.meta !== this.#self.meta || alive.address !== this.#self.address;
      if (
        !this.#left &&
        (alive.incarnation > this.#self.incarnation || (alive.incarnation === this.#self.incarnation && differs))
      )
        this.#refute(alive.incarnation);
      return;
    }
    let entry = this.#table.get(alive.id);
    if (entry !== undefined && source === 'itself') entry.lastHeardAt = now;
    if (entry !== undefined && alive.incarnation <= entry.incarnation) return;
    if (source !== 'sync') this.#rumours.add(aliveRumour(alive));
    if (entry === undefined) {
      entry = this.#table.add(alive, 'alive', now);
      return this.#changed('joined', entry);
    }
    const before = entry.state;
    const metaChanged = entry.meta !== alive.meta;
    entry.incarnation = alive.incarnation;
    entry.address = alive.address;
    entry.meta = alive.meta;
    this.#clearSuspicion(entry);
    this.#table.setState(entry, 'alive', now);
    if (before === 'dead' || before === 'left') this.#changed('joined', entry);
    else if (before === 'suspect' || metaChanged) this.#changed('updated', entry);
  }

  #applySuspect(now: number, suspect: Extract<Rumour, { type: 'suspect' }>): void {
    if (suspect.id === this.#self.id) {
      if (!this.#left && suspect.incarnation >= this.#self.incarnation) this.#refute(suspect.incarnation);
      return;
    }
    const entry = this.#table.get(suspect.id);
    if (entry === undefined || suspect.incarnation < entry.incarnation) return;
    if (entry.suspicion !== undefined) {
      if (entry.suspicion.confirm(suspect.from)) this.#rumours.add(suspect);
      return;
    }
    if (entry.state !== 'alive') return;
    this.#rumours.add(suspect);
    entry.incarnation = suspect.incarnation;
    const members = this.#clusterSize();
    const k = members - 2 < this.#timing.suspicionMultiplier - 2 ? 0 : this.#timing.suspicionMultiplier - 2;
    const min = suspicionTimeout(this.#timing, members);
    entry.suspicion = new Suspicion(now, suspect.from, k, min, min * SUSPICION_MAX_MULTIPLIER);
    this.#suspects.add(entry);
    this.#table.setState(entry, 'suspect', now);
    this.#changed('updated', entry);
  }

  #applyDead(now: number, dead: Extract<Rumour, { type: 'dead' }>): void {
    if (dead.id === this.#self.id) return this.#declaredDead(dead);
    const entry = this.#table.get(dead.id);
    if (entry === undefined || dead.incarnation < entry.incarnation || !isLive(entry.state)) return;
    this.#rumours.add(dead);
    entry.incarnation = dead.incarnation;
    this.#clearSuspicion(entry);
    this.#table.setState(entry, dead.from === dead.id ? 'left' : 'dead', now);
    this.#changed('left', entry);
  }

  /**
   * News that this node was declared dead at some incarnation of this
   * process: refuted if it is the current one, and reported once per
   * incarnation, even when a refutation of a suspicion already made it old.
   */
  #declaredDead(dead: Extract<Rumour, { type: 'dead' }>): void {
    if (this.#left || dead.from === this.#self.id || dead.incarnation < this.#startIncarnation) return;
    if (dead.incarnation >= this.#self.incarnation) this.#refute(dead.incarnation);
    if (dead.incarnation <= this.#reportedDeath) return;
    this.#reportedDeath = dead.incarnation;
    this.#out.push({ type: 'declared-dead', incarnation: dead.incarnation, by: dead.from });
    // Others lost this node; it probably lost them too (a partition, a pause): check a few at once.
    this.#pingDead(GOSSIP_FANOUT);
  }

  /** Someone says this node is suspect, dead or older than it is: a higher incarnation says otherwise. */
  #refute(accused: number): void {
    this.#self = { ...this.#self, incarnation: Math.max(this.#self.incarnation, accused) + 1 };
    this.#rumours.add(aliveRumour(this.#self));
    this.#adjustAwareness(1);
  }

  #clearSuspicion(entry: MemberEntry): void {
    entry.suspicion = undefined;
    this.#suspects.delete(entry);
  }

  #expireSuspicions(now: number): void {
    for (const entry of this.#suspects) {
      if (entry.suspicion!.deadline <= now)
        this.#applyDead(now, { type: 'dead', id: entry.id, incarnation: entry.incarnation, from: this.#self.id });
    }
  }

  // --- probes --------------------------------------------------------------

  #startProbe(now: number, target: MemberEntry): void {
    if (this.#isProbing(target.id)) return;
    const seq = ++this.#seq;
    this.#probes.set(seq, {
      seq,
      target: target.id,
      address: target.address,
      incarnation: target.incarnation,
      directDeadline: now + this.#scaled(this.#timing.probeTimeout),
      end: now + this.#scaled(this.#timing.probeInterval),
      indirect: false,
      refused: false,
      expectedNacks: 0,
      nacks: 0,
    });
    // A suspect learns of it with the ping, so it can refute at once.
    const extra: Rumour[] =
      target.state === 'suspect'
        ? [{ type: 'suspect', id: target.id, incarnation: target.incarnation, from: this.#self.id }]
        : [];
    this.#send(target.address, { type: 'ping', seq, target: target.id }, extra);
  }

  #isProbing(id: string): boolean {
    for (const probe of this.#probes.values()) if (probe.target === id) return true;
    return false;
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
    const helpers = this.#table.randomLive(
      this.#timing.indirectChecks,
      (entry) => entry.state === 'alive' && entry.id !== probe.target,
    );
    probe.expectedNacks = helpers.length;
    for (const helper of helpers)
      this.#send(helper.address, {
        type: 'ping-req',
        seq: probe.seq,
        target: probe.target,
        targetAddress: probe.address,
      });
    this.#concludeIfAllNacked(now, probe);
  }

  #onAck(seq: number): void {
    if (this.#probes.delete(seq)) this.#adjustAwareness(-1);
    const relay = this.#relays.get(seq);
    if (relay !== undefined) {
      this.#relays.delete(seq);
      this.#send(relay.requester, { type: 'ack', seq: relay.seq });
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

  #probeFailed(now: number, probe: Probe): void {
    this.#probes.delete(probe.seq);
    // Missing nacks hint that this node, not the target, is the slow one (Lifeguard).
    this.#adjustAwareness(probe.expectedNacks > 0 ? probe.expectedNacks - probe.nacks : 1);
    const entry = this.#table.get(probe.target);
    if (entry === undefined || !isLive(entry.state)) return;
    const rumour: Rumour = { type: 'suspect', id: probe.target, incarnation: probe.incarnation, from: this.#self.id };
    this.#applySuspect(now, rumour);
    this.#send(entry.address, { type: 'gossip' }, [rumour]);
  }

  /** Pings `target` for `requester`, relaying the ack, or a nack after probeTimeout. */
  #relay(now: number, requester: string, seq: number, target: string, targetAddress: string): void {
    const local = ++this.#seq;
    this.#relays.set(local, { requester, seq, deadline: now + this.#timing.probeTimeout });
    this.#send(targetAddress, { type: 'ping', seq: local, target });
  }

  #expireRelays(now: number): void {
    for (const [seq, relay] of this.#relays) {
      if (relay.deadline > now) continue;
      this.#relays.delete(seq);
      this.#send(relay.requester, { type: 'nack', seq: relay.seq });
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
    for (const entry of this.#suspects) entry.suspicion!.postpone(lag);
    this.#nextProbeAt = Math.min(this.#nextProbeAt, now);
    this.#adjustAwareness(1);
  }

  #adjustAwareness(delta: number): void {
    this.#awareness = Math.min(AWARENESS_MAX - 1, Math.max(0, this.#awareness + delta));
  }

  #scaled(ms: number): number {
    return ms * (this.#awareness + 1);
  }

  // --- dissemination and full state ---------------------------------------

  #send(to: string, body: DistributiveOmit<SwimMessage, 'from' | 'rumours'>, extra: Rumour[] = []): void {
    const rumours = this.#rumours.take(MAX_PIGGYBACK - extra.length, retransmitLimit(this.#clusterSize()));
    const message = { ...body, from: this.#self, rumours: extra.length === 0 ? rumours : [...extra, ...rumours] };
    this.#out.push({ type: 'send', to, message: message as SwimMessage });
  }

  #gossip(): void {
    for (const member of this.#table.randomLive(GOSSIP_FANOUT, undefined)) {
      if (this.#rumours.size === 0) return;
      this.#send(member.address, { type: 'gossip' });
    }
  }

  #sendSync(to: string, reply: boolean): void {
    const members: MemberRecord[] = [{ ...this.#self, state: this.#left ? 'left' : 'alive' }];
    for (const entry of this.#table.entries()) members.push(record(entry));
    this.#send(to, { type: 'sync', reply, members });
  }

  /** Takes in another node's full state, as memberlist: its dead members are only suspects here. */
  #merge(now: number, sync: Sync): void {
    for (const member of sync.members) {
      if (member.state === 'alive') this.#applyAlive(now, member, 'sync');
      else if (member.state === 'left')
        this.#applyDead(now, { type: 'dead', id: member.id, incarnation: member.incarnation, from: member.id });
      else if (member.id === this.#self.id && member.state === 'dead')
        this.#applyDead(now, { type: 'dead', id: member.id, incarnation: member.incarnation, from: sync.from.id });
      else
        this.#applySuspect(now, {
          type: 'suspect',
          id: member.id,
          incarnation: member.incarnation,
          from: this.#self.id,
        });
    }
    if (!sync.reply) this.#sendSync(sync.from.address, true);
  }

  /**
   * Forgets long-gone members, and pings one dead member: if it answers (a
   * partition healed, a pause ended), each side tells the other it had been
   * declared dead, both refute, and the rumours merge the two views.
   */
  #maintain(now: number): void {
    for (const entry of this.#table.entries()) {
      if (entry.state === 'left' && now - entry.stateChangedAt > LEFT_RETENTION) this.#table.delete(entry);
      else if (entry.state === 'dead' && now - entry.stateChangedAt > DEAD_RETENTION) this.#table.delete(entry);
    }
    this.#pingDead(1);
  }

  /** Pings up to `count` random dead members, outside of any probe: an answer only matters for its sender's identity. */
  #pingDead(count: number): void {
    const dead: MemberEntry[] = [];
    for (const entry of this.#table.entries()) if (entry.state === 'dead') dead.push(entry);
    for (let i = 0; i < count && dead.length > 0; i++) {
      const [member] = dead.splice(Math.floor(this.#random() * dead.length), 1);
      this.#send(member!.address, { type: 'ping', seq: ++this.#seq, target: member!.id });
    }
  }

  #changed(type: 'joined' | 'updated' | 'left', entry: MemberEntry): void {
    this.#out.push({ type, member: view(entry) });
  }

  #flush(now: number): SwimOutput[] {
    this.#dueAt = Math.max(now, this.nextDeadline());
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** N: the live members and this node. */
  #clusterSize(): number {
    return this.#table.liveCount + 1;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function record(entry: MemberEntry): MemberRecord {
  return { id: entry.id, address: entry.address, incarnation: entry.incarnation, meta: entry.meta, state: entry.state };
}

function aliveRumour(identity: Identity): Rumour {
  return {
    type: 'alive',
    id: identity.id,
    address: identity.address,
    incarnation: identity.incarnation,
    meta: identity.meta,
  };
}

function view(entry: MemberEntry): SwimMember {
  return {
    id: entry.id,
    address: entry.address,
    incarnation: entry.incarnation,
    meta: entry.meta,
    state: entry.state,
    stateChangedAt: entry.stateChangedAt,
    lastHeardAt: entry.lastHeardAt,
  };
}
