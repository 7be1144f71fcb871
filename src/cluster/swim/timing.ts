/**
 * How fast SWIM probes and decides, and the formulas that scale its timeouts
 * and retransmissions with the cluster's size (from hashicorp/memberlist).
 */

/** The tunable part, in ms. */
export interface SwimTiming {
  /** Each period a node probes one member. Default 500. */
  readonly probeInterval: number;
  /** A direct probe without an ack by then goes indirect; also how long an intermediary waits before its nack. Default 200. */
  readonly probeTimeout: number;
  /** Suspicion lasts suspicionMultiplier × max(1, log10 N) × probeInterval at least. Default 4. */
  readonly suspicionMultiplier: number;
  /** Members asked to probe indirectly when a direct probe fails. Default 3. */
  readonly indirectChecks: number;
}

export const DEFAULT_TIMING: SwimTiming = {
  probeInterval: 500,
  probeTimeout: 200,
  suspicionMultiplier: 4,
  indirectChecks: 3,
};

/** Without confirmations a suspicion lasts up to this many times its minimum (Lifeguard). */
export const SUSPICION_MAX_MULTIPLIER = 6;
/** Rumours are sent RETRANSMIT_MULTIPLIER × ceil(log10(N + 1)) times by each node that learns them. */
export const RETRANSMIT_MULTIPLIER = 4;
/** Most rumours piggybacked on one message. */
export const MAX_PIGGYBACK = 10;
/** While rumours are queued, every GOSSIP_INTERVAL ms they go to GOSSIP_FANOUT random members. */
export const GOSSIP_INTERVAL = 200;
export const GOSSIP_FANOUT = 3;
/** A full-state exchange with one random member every SYNC_INTERVAL ms (scaled past 32 members). */
export const SYNC_INTERVAL = 30_000;
/**
 * A node's first full-state exchange with a random member comes 0.5-1 times
 * this long after it starts, and so does the next one after an exchange that
 * taught it new members.
 */
export const FIRST_SYNC_DELAY = 5_000;
/** While members are dead, every RECONNECT_INTERVAL ms one of them is offered a full-state exchange, so a healed partition merges. */
export const RECONNECT_INTERVAL = 5_000;
/** Dead members are forgotten after this long, left ones after LEFT_RETENTION. */
export const DEAD_RETENTION = 3_600_000;
export const LEFT_RETENTION = 300_000;
/** Awareness (Lifeguard local health) scales probe timing by (score + 1), score below this. */
export const AWARENESS_MAX = 8;
/** A leave goes straight to at most this many members; gossip carries it further. */
export const LEAVE_FANOUT = 32;
/**
 * Incarnations start at a process's start time in ms and grow by one per
 * refutation or metadata change, so news of one more than this far ahead of
 * a node's clock is a lie (or a clock a year off): a node ignores it. Taking
 * in an incarnation near the largest safe integer would leave its member no
 * room to refute: its refutation would be past what the wire carries.
 */
export const MAX_INCARNATION_LEAD = 365 * 24 * 3_600_000;

/** The shortest suspicion for a cluster of `members` nodes. */
export function suspicionTimeout(timing: SwimTiming, members: number): number {
  return timing.suspicionMultiplier * Math.max(1, Math.log10(Math.max(1, members))) * timing.probeInterval;
}

/** Times each node sends a rumour in a cluster of `members` nodes. */
export function retransmitLimit(members: number): number {
  return RETRANSMIT_MULTIPLIER * Math.ceil(Math.log10(members + 1));
}

/** The full-state exchange interval for `members` nodes: longer past 32 so the bytes per node stay bounded. */
export function syncInterval(members: number): number {
  if (members <= 32) return SYNC_INTERVAL;
  return SYNC_INTERVAL * (Math.ceil(Math.log2(members) - Math.log2(32)) + 1);
}
