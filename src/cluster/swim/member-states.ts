import type { Awareness } from './awareness.js';
import { isLive, MemberTable, type MemberEntry } from './member-table.js';
import { MAX_MEMBERS, type Identity, type MemberRecord, type Rumour } from './messages.js';
import type { Outbox, SwimMember } from './outbox.js';
import type { RumourQueue } from './rumour-queue.js';
import { Suspicion } from './suspicion.js';
import {
  DEAD_RETENTION,
  GOSSIP_FANOUT,
  LEFT_RETENTION,
  SUSPICION_MAX_MULTIPLIER,
  suspicionTimeout,
  type SwimTiming,
} from './timing.js';

type SuspectRumour = Extract<Rumour, { type: 'suspect' }>;
type DeadRumour = Extract<Rumour, { type: 'dead' }>;

/**
 * What this node believes about every member, itself included, and the
 * rules that change it: for one member and incarnation, dead and left beat
 * suspect, which beats alive; a higher incarnation beats them all, and only
 * the member raises its own, to refute. Every change is queued as a rumour
 * and reported to the owner.
 */
export class MemberStates {
  readonly table: MemberTable;
  readonly rumours: RumourQueue;
  readonly #timing: SwimTiming;
  readonly #random: () => number;
  readonly #awareness: Awareness;
  readonly #out: Outbox;
  readonly #suspects = new Set<MemberEntry>();
  #self: Identity;
  /** This process's first incarnation: news about earlier ones concerns an earlier process. */
  readonly #startIncarnation: number;
  /** The highest incarnation at which this node was reported declared dead. */
  #reportedDeath = -1;
  #left = false;

  constructor(
    self: Identity,
    timing: SwimTiming,
    random: () => number,
    shared: { readonly rumours: RumourQueue; readonly awareness: Awareness; readonly out: Outbox },
  ) {
    this.#self = self;
    this.#startIncarnation = self.incarnation;
    this.#timing = timing;
    this.#random = random;
    this.rumours = shared.rumours;
    this.#awareness = shared.awareness;
    this.#out = shared.out;
    this.table = new MemberTable(random);
  }

  get self(): Identity {
    return this.#self;
  }

  get left(): boolean {
    return this.#left;
  }

  /** N: the live members and this node. */
  clusterSize(): number {
    return this.table.liveCount + 1;
  }

  /** The earliest time a suspicion runs out, or Infinity. */
  nextSuspicionDeadline(): number {
    let next = Infinity;
    for (const entry of this.#suspects) next = Math.min(next, entry.suspicion!.deadline);
    return next;
  }

  /** This node and every member, as a full-state exchange carries them. */
  records(): MemberRecord[] {
    const records: MemberRecord[] = [{ ...this.#self, state: this.#left ? 'left' : 'alive' }];
    for (const entry of this.table.entries()) records.push(record(entry));
    return records;
  }

  /** Marks this node as leaving; returns the rumour that says so. */
  leave(): Rumour {
    this.#left = true;
    const rumour: Rumour = {
      type: 'dead',
      id: this.#self.id,
      incarnation: this.#self.incarnation,
      from: this.#self.id,
    };
    this.rumours.add(rumour);
    return rumour;
  }

  /** New metadata, announced with a new incarnation. */
  setMeta(meta: string): void {
    this.#self = { ...this.#self, meta, incarnation: this.#self.incarnation + 1 };
    this.rumours.add(aliveRumour(this.#self));
  }

  apply(now: number, rumour: Rumour): void {
    if (rumour.type === 'alive') this.applyAlive(now, rumour, 'rumour');
    else if (rumour.type === 'suspect') this.applySuspect(now, rumour);
    else this.applyDead(now, rumour);
  }

  /**
   * A message's sender speaks for itself. If it is behind on its own fate
   * (suspect or dead here), or back from the dead through a refutation made
   * before it heard of its death, tell it, so it refutes, or learns it was
   * declared dead.
   */
  hearFrom(now: number, sender: Identity): void {
    const entry = this.table.get(sender.id);
    const before = entry === undefined ? undefined : { state: entry.state, incarnation: entry.incarnation };
    this.applyAlive(now, sender, 'itself');
    if (entry === undefined || before === undefined) return;
    let fate: Rumour | undefined;
    if (entry.incarnation === sender.incarnation && (entry.state === 'suspect' || entry.state === 'dead'))
      fate = { type: entry.state, id: entry.id, incarnation: entry.incarnation, from: this.#self.id };
    else if (before.state === 'dead' && entry.state === 'alive')
      fate = { type: 'dead', id: entry.id, incarnation: before.incarnation, from: this.#self.id };
    if (fate !== undefined) this.#out.send(sender.address, { type: 'gossip' }, [fate]);
  }

  /**
   * News that a member is alive: from the member itself (a message's
   * sender), a rumour, or another node's full state. Only the first two are
   * gossiped on: in a full-state exchange each third party's own rumours
   * already carry its news, and re-gossiping whole tables would flood the
   * queues on every join.
   */
  applyAlive(now: number, alive: Identity, source: 'itself' | 'rumour' | 'sync'): void {
    if (alive.id === this.#self.id) return this.#aliveAboutSelf(alive);
    let entry = this.table.get(alive.id);
    if (entry === undefined && this.table.size + 1 >= MAX_MEMBERS) return;
    if (entry !== undefined && source === 'itself') entry.lastHeardAt = now;
    if (entry !== undefined && alive.incarnation <= entry.incarnation) return;
    if (source !== 'sync') this.rumours.add(aliveRumour(alive));
    if (entry === undefined) {
      entry = this.table.add(alive, 'alive', now);
      return this.#changed('joined', entry);
    }
    const before = entry.state;
    const metaChanged = entry.meta !== alive.meta;
    entry.incarnation = alive.incarnation;
    entry.address = alive.address;
    entry.meta = alive.meta;
    this.#clearSuspicion(entry);
    this.table.setState(entry, 'alive', now);
    if (before === 'dead' || before === 'left') this.#changed('joined', entry);
    else if (before === 'suspect' || metaChanged) this.#changed('updated', entry);
  }

  applySuspect(now: number, suspect: SuspectRumour): void {
    if (suspect.id === this.#self.id) {
      if (!this.#left && suspect.incarnation >= this.#self.incarnation) this.#refute(suspect.incarnation);
      return;
    }
    const entry = this.table.get(suspect.id);
    if (entry === undefined || suspect.incarnation < entry.incarnation) return;
    if (entry.suspicion !== undefined) {
      if (entry.suspicion.confirm(suspect.from)) this.rumours.add(suspect);
      return;
    }
    if (entry.state !== 'alive') return;
    this.rumours.add(suspect);
    entry.incarnation = suspect.incarnation;
    entry.suspicion = this.#newSuspicion(now, suspect.from);
    this.#suspects.add(entry);
    this.table.setState(entry, 'suspect', now);
    this.#changed('updated', entry);
  }

  applyDead(now: number, dead: DeadRumour): void {
    if (dead.id === this.#self.id) return this.#declaredDead(dead);
    const entry = this.table.get(dead.id);
    if (entry === undefined || dead.incarnation < entry.incarnation || !isLive(entry.state)) return;
    this.rumours.add(dead);
    entry.incarnation = dead.incarnation;
    this.#clearSuspicion(entry);
    this.table.setState(entry, dead.from === dead.id ? 'left' : 'dead', now);
    this.#changed('left', entry);
  }

  /**
   * Takes in another node's full state, as memberlist: its dead members are
   * only suspects here. Returns how many members were news to this node.
   */
  merge(now: number, members: readonly MemberRecord[], from: string): number {
    const before = this.table.size;
    for (const member of members) {
      const { id, incarnation } = member;
      if (member.state === 'alive') this.applyAlive(now, member, 'sync');
      else if (member.state === 'left') this.applyDead(now, { type: 'dead', id, incarnation, from: id });
      else if (id === this.#self.id && member.state === 'dead')
        this.applyDead(now, { type: 'dead', id, incarnation, from });
      else this.applySuspect(now, { type: 'suspect', id, incarnation, from: this.#self.id });
    }
    return this.table.size - before;
  }

  /** Suspects whose time ran out are dead. */
  expireSuspicions(now: number): void {
    for (const entry of this.#suspects) {
      if (entry.suspicion!.deadline <= now)
        this.applyDead(now, { type: 'dead', id: entry.id, incarnation: entry.incarnation, from: this.#self.id });
    }
  }

  /** Gives every suspect `ms` more: this node was paused and could not hear refutations. */
  postponeSuspicions(ms: number): void {
    for (const entry of this.#suspects) entry.suspicion!.postpone(ms);
  }

  /** Forgets members dead or left long enough ago. */
  forgetGone(now: number): void {
    for (const entry of this.table.entries()) {
      const retention = entry.state === 'left' ? LEFT_RETENTION : entry.state === 'dead' ? DEAD_RETENTION : Infinity;
      if (now - entry.stateChangedAt > retention) this.table.delete(entry);
    }
  }

  /**
   * Pings up to `count` random dead members, outside of any probe: if one
   * answers (a partition healed, a pause ended), each side tells the other it
   * had been declared dead, both refute, and the rumours merge the two views.
   */
  pingDead(count: number): void {
    const dead: MemberEntry[] = [];
    for (const entry of this.table.entries()) if (entry.state === 'dead') dead.push(entry);
    for (let i = 0; i < count && dead.length > 0; i++) {
      const [member] = dead.splice(Math.floor(this.#random() * dead.length), 1);
      this.#out.send(member!.address, { type: 'ping', seq: this.#out.nextSeq(), target: member!.id });
    }
  }

  /** Another node's news about this one: older or equal news is old; newer or different news is refuted. */
  #aliveAboutSelf(alive: Identity): void {
    const self = this.#self;
    const differs = alive.meta !== self.meta || alive.address !== self.address;
    if (this.#left || alive.incarnation < self.incarnation) return;
    if (alive.incarnation > self.incarnation || differs) this.#refute(alive.incarnation);
  }

  /**
   * News that this node was declared dead at some incarnation of this
   * process: refuted if it is the current one, and reported once per
   * incarnation, even when a refutation of a suspicion already made it old.
   */
  #declaredDead(dead: DeadRumour): void {
    if (this.#left || dead.from === this.#self.id || dead.incarnation < this.#startIncarnation) return;
    if (dead.incarnation >= this.#self.incarnation) this.#refute(dead.incarnation);
    if (dead.incarnation <= this.#reportedDeath) return;
    this.#reportedDeath = dead.incarnation;
    this.#out.emit({ type: 'declared-dead', incarnation: dead.incarnation, by: dead.from });
    // Others lost this node; it probably lost them too (a partition, a pause): check a few at once.
    this.pingDead(GOSSIP_FANOUT);
  }

  /** Someone says this node is suspect, dead or other than it is: a higher incarnation says otherwise. */
  #refute(accused: number): void {
    this.#self = { ...this.#self, incarnation: Math.max(this.#self.incarnation, accused) + 1 };
    this.rumours.add(aliveRumour(this.#self));
    this.#awareness.adjust(1);
  }

  /**
   * A suspicion for the current cluster size: k = suspicionMultiplier - 2
   * independent confirmations bring it from its maximum down to its minimum
   * (none expected when there are too few members to confirm).
   */
  #newSuspicion(now: number, from: string): Suspicion {
    const members = this.clusterSize();
    const wanted = this.#timing.suspicionMultiplier - 2;
    const k = members - 2 < wanted ? 0 : wanted;
    const min = suspicionTimeout(this.#timing, members);
    return new Suspicion(now, from, k, min, min * SUSPICION_MAX_MULTIPLIER);
  }

  #clearSuspicion(entry: MemberEntry): void {
    entry.suspicion = undefined;
    this.#suspects.delete(entry);
  }

  #changed(type: 'joined' | 'updated' | 'left', entry: MemberEntry): void {
    this.#out.emit({ type, member: view(entry) });
  }
}

function record(entry: MemberEntry): MemberRecord {
  return { id: entry.id, address: entry.address, incarnation: entry.incarnation, meta: entry.meta, state: entry.state };
}

function aliveRumour(identity: Identity): Rumour {
  const { id, address, incarnation, meta } = identity;
  return { type: 'alive', id, address, incarnation, meta };
}

/** A snapshot of `entry` for the owner. */
export function view(entry: MemberEntry): SwimMember {
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
