import type { Identity, MemberState } from './messages.js';
import type { Suspicion } from './suspicion.js';

/** What a node knows of another. */
export interface MemberEntry {
  readonly id: string;
  address: string;
  incarnation: number;
  meta: string;
  state: MemberState;
  /** Time of the last state change. */
  stateChangedAt: number;
  /** Time this node last heard from the member itself. */
  lastHeardAt: number;
  /** Present while the member is suspect. */
  suspicion: Suspicion | undefined;
}

/**
 * The other members, with what SWIM needs fast: uniform random picks among
 * the live ones (alive or suspect), and a probe order that visits each live
 * member once per round in a random order reshuffled every round, so a
 * failure is found within one round at worst and in half a round on average.
 */
export class MemberTable {
  readonly #random: () => number;
  readonly #entries = new Map<string, MemberEntry>();
  /** Live members' ids, in no order, for random picks. */
  readonly #live: string[] = [];
  readonly #liveIndex = new Map<string, number>();
  #probeOrder: string[] = [];
  #probeNext = 0;

  constructor(random: () => number) {
    this.#random = random;
  }

  get(id: string): MemberEntry | undefined {
    return this.#entries.get(id);
  }

  /** Every member, whatever its state. */
  entries(): IterableIterator<MemberEntry> {
    return this.#entries.values();
  }

  /** Members in any state. */
  get size(): number {
    return this.#entries.size;
  }

  /** Members that are alive or suspect. */
  get liveCount(): number {
    return this.#live.length;
  }

  /** Adds a member never seen before, in `state`. */
  add(identity: Identity, state: MemberState, now: number): MemberEntry {
    const entry: MemberEntry = {
      id: identity.id,
      address: identity.address,
      incarnation: identity.incarnation,
      meta: identity.meta,
      state,
      stateChangedAt: now,
      lastHeardAt: now,
      suspicion: undefined,
    };
    this.#entries.set(entry.id, entry);
    if (isLive(state)) this.#addLive(entry.id);
    return entry;
  }

  /** Changes a member's state, keeping the live set in step. */
  setState(entry: MemberEntry, state: MemberState, now: number): void {
    if (entry.state === state) return;
    const wasLive = isLive(entry.state);
    entry.state = state;
    entry.stateChangedAt = now;
    if (wasLive && !isLive(state)) this.#removeLive(entry.id);
    else if (!wasLive && isLive(state)) this.#addLive(entry.id);
  }

  /** Forgets a member (dead or left long enough). */
  delete(entry: MemberEntry): void {
    this.#entries.delete(entry.id);
    if (isLive(entry.state)) this.#removeLive(entry.id);
  }

  /** The next live member to probe, or undefined when there is none. */
  nextToProbe(): MemberEntry | undefined {
    for (let checked = 0; checked <= this.#probeOrder.length; checked++) {
      if (this.#probeNext >= this.#probeOrder.length) {
        this.#probeOrder = this.#shuffled(this.#live);
        this.#probeNext = 0;
        if (this.#probeOrder.length === 0) return undefined;
      }
      const entry = this.#entries.get(this.#probeOrder[this.#probeNext++]!);
      if (entry !== undefined && isLive(entry.state)) return entry;
    }
    return undefined;
  }

  /** Up to `k` distinct live members chosen at random, each one `accept`ed when given. */
  randomLive(k: number, accept: ((entry: MemberEntry) => boolean) | undefined): MemberEntry[] {
    const picked: MemberEntry[] = [];
    const count = this.#live.length;
    if (k <= 0 || count === 0) return picked;
    if (count <= k * 3) {
      for (const id of this.#shuffled(this.#live)) {
        if (picked.length === k) break;
        const entry = this.#entries.get(id)!;
        if (accept === undefined || accept(entry)) picked.push(entry);
      }
      return picked;
    }
    const seen = new Set<string>();
    for (let tries = 0; tries < k * 6 && picked.length < k; tries++) {
      const id = this.#live[Math.floor(this.#random() * count)]!;
      if (seen.has(id)) continue;
      seen.add(id);
      const entry = this.#entries.get(id)!;
      if (accept === undefined || accept(entry)) picked.push(entry);
    }
    return picked;
  }

  #addLive(id: string): void {
    this.#liveIndex.set(id, this.#live.length);
    this.#live.push(id);
    // A newcomer takes a random place in what is left of this round (swapping with the member there), so no
    // member always probes it last.
    const order = this.#probeOrder;
    const at = this.#probeNext + Math.floor(this.#random() * (order.length - this.#probeNext + 1));
    order.push(id);
    [order[at], order[order.length - 1]] = [order[order.length - 1]!, order[at]!];
  }

  #removeLive(id: string): void {
    const index = this.#liveIndex.get(id)!;
    const last = this.#live.pop()!;
    if (last !== id) {
      this.#live[index] = last;
      this.#liveIndex.set(last, index);
    }
    this.#liveIndex.delete(id);
  }

  #shuffled(ids: readonly string[]): string[] {
    const copy = [...ids];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }
}

/** Alive and suspect members are probed and gossiped to; dead and left ones are not. */
export function isLive(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}
