import type { Identity, MemberRecord, Rumour, SwimMessage } from './messages.js';
import type { RumourQueue } from './rumour-queue.js';
import { MAX_PIGGYBACK, retransmitLimit } from './timing.js';

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

/** A message without the parts every message gets on its way out. */
export type MessageBody = SwimMessage extends infer T
  ? T extends unknown
    ? Omit<T, 'from' | 'rumours'>
    : never
  : never;

/**
 * Collects one input's outputs. Every message leaves with the sender's
 * identity and as many queued rumours as fit.
 */
export class Outbox {
  readonly #self: () => Identity;
  readonly #rumours: RumourQueue;
  readonly #clusterSize: () => number;
  #seq = 0;
  #out: SwimOutput[] = [];

  constructor(self: () => Identity, rumours: RumourQueue, clusterSize: () => number) {
    this.#self = self;
    this.#rumours = rumours;
    this.#clusterSize = clusterSize;
  }

  /** A sequence number for a ping or ping request, unique on this node. */
  nextSeq(): number {
    return ++this.#seq;
  }

  /** Sends `body` to `address`, with `extra` rumours first and queued ones piggybacked. */
  send(address: string, body: MessageBody, extra: readonly Rumour[] = []): void {
    const queued = this.#rumours.take(MAX_PIGGYBACK - extra.length, retransmitLimit(this.#clusterSize()));
    const rumours = extra.length === 0 ? queued : [...extra, ...queued];
    this.#out.push({ type: 'send', to: address, message: { ...body, from: this.#self(), rumours } as SwimMessage });
  }

  emit(output: SwimOutput): void {
    this.#out.push(output);
  }

  /** The outputs collected since the last flush. */
  flush(): SwimOutput[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}
