/**
 * The SWIM membership protocol's data: member states, the rumours that gossip
 * carries, and the messages nodes exchange. A leaf module: the state machine,
 * its codec and its drivers all depend on it, and it depends on nothing.
 */

/**
 * Most members a node knows of, itself included: a full-state exchange
 * carries them all, and news of more is ignored (a flood of made-up members
 * cannot grow a node's table without bound).
 */
export const MAX_MEMBERS = 16_384;

/**
 * alive: it answers; suspect: a probe failed and it has not refuted yet; dead:
 * the suspicion timed out; left: it announced its leave.
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** A node as it introduces itself: every message carries its sender's. */
export interface Identity {
  /** Stable name of the node (distcache: its peer address `host:port`). */
  readonly id: string;
  /** Where its membership messages go (distcache: its discovery address `host:port`). */
  readonly address: string;
  /** Raised by the node itself to refute a suspicion or announce new metadata; newer wins. */
  readonly incarnation: number;
  /** Opaque to the protocol (distcache: the keyspace digest); a change spreads as an `alive` rumour. */
  readonly meta: string;
}

/** A member in a full-state exchange (join, anti-entropy). */
export interface MemberRecord extends Identity {
  readonly state: MemberState;
}

/**
 * A rumour spread by gossip, about one member. For one member and
 * incarnation, dead and left beat suspect, which beats alive; a higher
 * incarnation beats them all, and only the member itself raises it.
 */
export type Rumour =
  | ({ readonly type: 'alive' } & Identity)
  | { readonly type: 'suspect'; readonly id: string; readonly incarnation: number; readonly from: string }
  /** `from === id`: the member left on purpose. */
  | { readonly type: 'dead'; readonly id: string; readonly incarnation: number; readonly from: string };

interface Envelope {
  /** The sender, as it sees itself. */
  readonly from: Identity;
  /** Rumours piggybacked on the message. */
  readonly rumours: readonly Rumour[];
}

/** Are you there? Answered with an `ack` of the same `seq`, by `target` only. */
export interface Ping extends Envelope {
  readonly type: 'ping';
  readonly seq: number;
  readonly target: string;
}

/** The answer to a ping, or an intermediary's relay of the target's answer to a ping request. */
export interface Ack extends Envelope {
  readonly type: 'ack';
  readonly seq: number;
}

/** An intermediary could not reach the target of a ping request: it is up itself (Lifeguard). */
export interface Nack extends Envelope {
  readonly type: 'nack';
  readonly seq: number;
}

/** Please ping `target` at `targetAddress` for me and relay its ack with my `seq`. */
export interface PingRequest extends Envelope {
  readonly type: 'ping-req';
  readonly seq: number;
  readonly target: string;
  readonly targetAddress: string;
}

/** Rumours alone, when nothing else carries them soon enough. */
export interface Gossip extends Envelope {
  readonly type: 'gossip';
}

/** A full-state exchange (push/pull): on join and now and then; answered with `reply: true`. */
export interface Sync extends Envelope {
  readonly type: 'sync';
  readonly reply: boolean;
  readonly members: readonly MemberRecord[];
}

export type SwimMessage = Ping | Ack | Nack | PingRequest | Gossip | Sync;
