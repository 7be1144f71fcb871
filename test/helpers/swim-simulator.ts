/**
 * A deterministic simulator for the SWIM state machine: N instances on a
 * virtual clock, a network with per-message delay and loss, partitions, and
 * nodes that crash (silently, or refusing connections as a killed process's
 * host does) or pause and resume (as SIGSTOP/SIGCONT: messages wait in the
 * socket buffers). Same seed, same run.
 */
import type { SwimMessage } from '../../src/cluster/swim/messages.js';
import { SwimStateMachine, type SwimOutput } from '../../src/cluster/swim/swim.js';
import { DEFAULT_TIMING, type SwimTiming } from '../../src/cluster/swim/timing.js';
import { seededRandom } from './random.js';

export interface NetworkModel {
  /** One-way delay of each message, uniform in [minDelay, maxDelay] ms. */
  readonly minDelay: number;
  readonly maxDelay: number;
  /** Probability that a message is lost. */
  readonly loss: number;
}

export interface SimulationOptions {
  readonly nodes: number;
  readonly seed: number;
  readonly network: NetworkModel;
  readonly timing?: SwimTiming;
  /**
   * `formed`: every node starts knowing every other (as after a full-state
   * exchange); else each node starts alone and joins through the first
   * `seeds` nodes, and as distcache's discovery re-poll does, tries again
   * every {@link REDISCOVER_INTERVAL} while a seed is not alive in its view.
   */
  readonly start: 'formed' | { readonly seeds: number };
}

/** A membership change one node observed. */
export interface ObservedChange {
  readonly at: number;
  readonly observer: string;
  readonly type: 'joined' | 'updated' | 'left' | 'declared-dead';
  /** The member concerned (the observer itself for declared-dead). */
  readonly member: string;
  readonly state: string;
  /** The member's incarnation the change is about. */
  readonly incarnation: number;
}

type Status = 'up' | 'crashed' | 'paused';

interface SimNode {
  readonly id: string;
  readonly machine: SwimStateMachine;
  status: Status;
  /** A crashed node's host refuses connections (kill -9) rather than staying silent (power loss, cable cut). */
  refuses: boolean;
  group: number;
  /** Messages that arrived while it was paused. */
  inbox: SwimMessage[];
  tickAt: number;
  sent: number;
}

/** How often a node dials the seeds it does not see alive, as Cluster re-polls discovery. */
export const REDISCOVER_INTERVAL = 5_000;

const enum Kind {
  Deliver,
  Tick,
  Undeliverable,
  Rediscover,
}

interface SimEvent {
  readonly at: number;
  readonly order: number;
  readonly kind: Kind;
  readonly node: number;
  readonly message: SwimMessage | undefined;
}

/** A binary min-heap of events by time, then by scheduling order (so runs are deterministic). */
class EventQueue {
  readonly #heap: SimEvent[] = [];

  get size(): number {
    return this.#heap.length;
  }

  peek(): SimEvent | undefined {
    return this.#heap[0];
  }

  push(event: SimEvent): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  pop(): SimEvent | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** N SWIM nodes on one virtual clock. */
export class SwimSimulation {
  readonly changes: ObservedChange[] = [];
  readonly #nodes: SimNode[] = [];
  readonly #index = new Map<string, number>();
  readonly #queue = new EventQueue();
  readonly #random: () => number;
  readonly #network: NetworkModel;
  #order = 0;
  #now = 0;
  #seeds: string[] = [];
  /** Messages sent, by type. */
  readonly sentByType = new Map<string, number>();

  constructor(options: SimulationOptions) {
    this.#random = seededRandom(options.seed);
    this.#network = options.network;
    const timing = options.timing ?? DEFAULT_TIMING;
    for (let i = 0; i < options.nodes; i++) {
      const id = nodeId(i);
      const machine = new SwimStateMachine({
        self: { id, address: id, incarnation: 1, meta: 'm' },
        timing,
        random: seededRandom(options.seed * 7919 + i + 1),
        now: 0,
      });
      this.#index.set(id, i);
      this.#nodes.push({ id, machine, status: 'up', refuses: false, group: 0, inbox: [], tickAt: Infinity, sent: 0 });
    }
    if (options.start === 'formed') this.#formAll();
    else {
      this.#seeds = this.#nodes.slice(0, options.start.seeds).map((node) => node.id);
      for (let i = 0; i < this.#nodes.length; i++) this.#apply(i, this.#nodes[i]!.machine.join(0, this.#seeds));
      this.#push(REDISCOVER_INTERVAL, Kind.Rediscover, 0, undefined);
    }
    for (let i = 0; i < this.#nodes.length; i++) this.#schedule(i);
  }

  /** The virtual time, in ms. */
  get now(): number {
    return this.#now;
  }

  get size(): number {
    return this.#nodes.length;
  }

  /** The state machine of node `id`, to inspect. */
  machine(id: string): SwimStateMachine {
    return this.#node(id).machine;
  }

  /** Messages node `id` sent so far. */
  sentBy(id: string): number {
    return this.#node(id).sent;
  }

  /** Messages all nodes sent so far. */
  totalSent(): number {
    let total = 0;
    for (const node of this.#nodes) total += node.sent;
    return total;
  }

  /** Runs every event up to `until` (virtual ms). */
  runUntil(until: number): void {
    for (;;) {
      const next = this.#queue.peek();
      if (next === undefined || next.at > until) break;
      this.#queue.pop();
      this.#now = next.at;
      this.#handle(next);
    }
    this.#now = until;
  }

  runFor(ms: number): void {
    this.runUntil(this.#now + ms);
  }

  /** Stops node `id` for good; with `refuses`, senders learn at once that it is gone. */
  crash(id: string, refuses: boolean): void {
    const node = this.#node(id);
    node.status = 'crashed';
    node.refuses = refuses;
    node.inbox = [];
  }

  /** Freezes node `id`: no ticks; messages wait for it. */
  pause(id: string): void {
    this.#node(id).status = 'paused';
  }

  /** Thaws node `id`: its overdue tick runs, then the messages that waited. */
  resume(id: string): void {
    const index = this.#index.get(id)!;
    const node = this.#nodes[index]!;
    if (node.status !== 'paused') return;
    node.status = 'up';
    this.#apply(index, node.machine.tick(this.#now));
    const inbox = node.inbox;
    node.inbox = [];
    for (const message of inbox) this.#apply(index, node.machine.receive(this.#now, message));
    this.#schedule(index);
  }

  /** Node `id` leaves gracefully. */
  leave(id: string): void {
    const index = this.#index.get(id)!;
    this.#apply(index, this.#nodes[index]!.machine.leave(this.#now));
    this.#schedule(index);
  }

  /** Splits the network: messages between different groups are lost. Nodes not listed form one more group. */
  partition(groups: readonly (readonly string[])[]): void {
    for (const node of this.#nodes) node.group = groups.length;
    groups.forEach((group, g) => {
      for (const id of group) this.#node(id).group = g;
    });
  }

  heal(): void {
    for (const node of this.#nodes) node.group = 0;
  }

  /** Ids of the nodes that are up (neither crashed nor paused). */
  upIds(): string[] {
    return this.#nodes.filter((node) => node.status === 'up').map((node) => node.id);
  }

  #node(id: string): SimNode {
    const index = this.#index.get(id);
    if (index === undefined) throw new Error(`no simulated node ${id}`);
    return this.#nodes[index]!;
  }

  /** Every node learns every other from one full-state message, as after a join, without gossip about it. */
  #formAll(): void {
    const members = this.#nodes.map((node) => ({ ...node.machine.self, state: 'alive' as const }));
    const from = this.#nodes[0]!.machine.self;
    for (let i = 0; i < this.#nodes.length; i++) {
      const machine = this.#nodes[i]!.machine;
      machine.receive(0, { type: 'sync', reply: true, from, members, rumours: [] });
    }
    this.changes.length = 0;
  }

  /** Every up node dials the seeds it does not see alive. */
  #rediscover(): void {
    this.#push(this.#now + REDISCOVER_INTERVAL, Kind.Rediscover, 0, undefined);
    for (let i = 0; i < this.#nodes.length; i++) {
      const node = this.#nodes[i]!;
      if (node.status !== 'up' || node.machine.left) continue;
      const missing = this.#seeds.filter((id) => id !== node.id && node.machine.member(id)?.state !== 'alive');
      if (missing.length === 0) continue;
      this.#apply(i, node.machine.join(this.#now, missing));
      this.#schedule(i);
    }
  }

  #handle(event: SimEvent): void {
    if (event.kind === Kind.Rediscover) return this.#rediscover();
    const node = this.#nodes[event.node]!;
    if (node.status === 'crashed') return;
    if (event.kind === Kind.Tick) {
      if (node.status !== 'up' || event.at !== node.tickAt) return;
      node.tickAt = Infinity;
      this.#apply(event.node, node.machine.tick(this.#now));
    } else if (event.kind === Kind.Deliver) {
      if (node.status === 'paused') return void node.inbox.push(event.message!);
      this.#apply(event.node, node.machine.receive(this.#now, event.message!));
    } else {
      if (node.status !== 'up') return;
      this.#apply(event.node, node.machine.undeliverable(this.#now, event.message!));
    }
    this.#schedule(event.node);
  }

  #apply(from: number, outputs: SwimOutput[]): void {
    const sender = this.#nodes[from]!;
    for (const output of outputs) {
      if (output.type === 'send') this.#transmit(from, output.to, output.message);
      else
        this.changes.push({
          at: this.#now,
          observer: sender.id,
          type: output.type,
          member: output.type === 'declared-dead' ? sender.id : output.member.id,
          state: output.type === 'declared-dead' ? 'dead' : output.member.state,
          incarnation: output.type === 'declared-dead' ? output.incarnation : output.member.incarnation,
        });
    }
  }

  #transmit(from: number, to: string, message: SwimMessage): void {
    const sender = this.#nodes[from]!;
    sender.sent++;
    this.sentByType.set(message.type, (this.sentByType.get(message.type) ?? 0) + 1);
    const target = this.#index.get(to);
    if (target === undefined) return;
    const receiver = this.#nodes[target]!;
    const delay = this.#network.minDelay + this.#random() * (this.#network.maxDelay - this.#network.minDelay);
    if (receiver.status === 'crashed' && receiver.refuses) {
      this.#push(this.#now + 2 * delay, Kind.Undeliverable, from, message);
      return;
    }
    if (receiver.group !== sender.group || this.#random() < this.#network.loss) return;
    this.#push(this.#now + delay, Kind.Deliver, target, message);
  }

  #schedule(index: number): void {
    const node = this.#nodes[index]!;
    if (node.status !== 'up') return;
    const due = Math.max(this.#now, node.machine.nextDeadline());
    if (due === node.tickAt || due === Infinity) return;
    node.tickAt = due;
    this.#push(due, Kind.Tick, index, undefined);
  }

  #push(at: number, kind: Kind, node: number, message: SwimMessage | undefined): void {
    this.#queue.push({ at, order: this.#order++, kind, node, message });
  }
}

/** The id (and address) of simulated node `i`. */
export function nodeId(i: number): string {
  return `n${i}`;
}
