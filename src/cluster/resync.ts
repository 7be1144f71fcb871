import { waitFor } from '../abort.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import type { ReadResult } from '../keyspace/types.js';
import type { VersionedCopy } from '../keyspace/versions.js';
import type { HybridLogicalClock } from '../lib/hybrid-logical-clock.js';
import { SingleFlight } from '../lib/single-flight.js';
import type { Logger } from '../logger.js';
import type { HotCache } from './hot-cache.js';
import { isUnreachable } from './peer-errors.js';
import type { Placement } from './placement.js';

/** Longest a node stays syncing when some member never says it is done. */
export const SYNC_DEADLINE_MS = 10_000;
/**
 * Shortest sync: members a node has not heard of yet (it just started, and
 * their first membership messages are on their way) are asked when they
 * show up within this time.
 */
export const SYNC_MINIMUM_MS = 3_000;

/** Why a node syncs. */
export type ResyncReason =
  /** It just started. */
  | 'started'
  /** Its process was paused longer than the others take to declare it dead. */
  | 'paused'
  /** Other members declared it dead (SWIM told it so). */
  | 'declared dead'
  /** Members it had declared dead are back: a partition healed, or they were paused. */
  | 'members returned';

/** What syncing needs from the cluster. */
export interface ResyncContext {
  readonly selfId: string;
  readonly placement: Placement;
  readonly clock: HybridLogicalClock;
  readonly hot: HotCache;
  readonly logger: Logger;
  /** Every other member this node knows, admitted or not. */
  others(): readonly string[];
  /** Asks `node` for its copy of `key`, without loading it; undefined when it holds none. */
  peek(node: string, keyspace: Keyspace, key: string): Promise<VersionedCopy | undefined>;
  /** Asks `node` to send the entries this node owns; resolves once it did. */
  requestSync(node: string, timeoutMs: number): Promise<void>;
}

/** One sync, from its start (or its last widening) until every member asked is done or the deadline passes. */
interface Round {
  readonly reason: ResyncReason;
  /** Entries with a version above it were written since the round began: they need no check. */
  floor: number;
  /** The members whose copies may be newer than this node's (undefined: every other member). */
  otherSide: Set<string> | undefined;
  /** Per keyspace, the keys checked against the other side since the round began or widened. */
  checked: Map<string, Set<string>>;
  /**
   * Per keyspace, the keys whose copy came from another node during the
   * round (a push, a handoff): a version above the floor does not make it
   * the newest, as a write that reached only the sender may be newer.
   */
  merged: Map<string, Set<string>>;
  /** Members asked to send their entries. */
  readonly asked: Set<string>;
  /** Members asked that have not finished. */
  readonly waiting: Set<string>;
  began: number;
  deadline: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A node that may hold copies older than the cluster's (it just started,
 * it was paused, or it was cut off from some members) *syncs* before it
 * trusts them. It asks every member on the other side to send the entries
 * it owns (they merge by version), and until all of them are done, or
 * {@link SYNC_DEADLINE_MS} passes, a read of a key it owns that it has not
 * checked since the sync began first asks the first member of the other
 * side in the key's rendezvous order for its copy (no load there); the
 * newer copy wins, and only when no copy exists does the read load from the
 * data source. Hot copies are dropped when a sync begins.
 *
 * "Held before the sync began" costs nothing to mark: the sync notes the
 * clock, and every write after it carries a higher version.
 */
export class Resync {
  readonly #context: ResyncContext;
  #round: Round | undefined;
  readonly #checks = new SingleFlight<void>();
  #idleWaiters: (() => void)[] = [];

  constructor(context: ResyncContext) {
    this.#context = context;
  }

  /** Whether a sync is in progress: reads of owned keys then go through {@link read}. */
  get active(): boolean {
    return this.#round !== undefined;
  }

  /**
   * Starts syncing against `otherSide` (the members whose copies may be
   * newer; undefined = every other member), or widens the sync in progress
   * to them: everything held now needs checking again, and the members not
   * asked yet are asked.
   */
  start(reason: ResyncReason, otherSide?: readonly string[]): void {
    const now = Date.now();
    let round = this.#round;
    if (round === undefined) {
      round = {
        reason,
        floor: 0,
        otherSide: otherSide && new Set(otherSide),
        checked: new Map(),
        merged: new Map(),
        asked: new Set(),
        waiting: new Set(),
        began: now,
        deadline: 0,
        timer: undefined,
      };
      this.#round = round;
    } else if (otherSide === undefined) {
      round.otherSide = undefined;
    } else {
      for (const node of otherSide) round.otherSide?.add(node);
    }
    round.floor = this.#context.clock.next();
    round.checked = new Map();
    round.merged = new Map();
    round.began = now;
    round.deadline = now + SYNC_DEADLINE_MS;
    this.#wakeAt(round, SYNC_MINIMUM_MS);
    this.#context.hot.clear();
    this.#context.logger.info(
      { reason, otherSide: round.otherSide === undefined ? 'every member' : [...round.otherSide] },
      'syncing: checking held copies against the other members',
    );
    this.ask(round.otherSide === undefined ? this.#context.others() : [...round.otherSide]);
  }

  /** Asks these members (newly admitted, or returned) to send their entries, when the sync in progress covers them. */
  ask(members: readonly string[]): void {
    const round = this.#round;
    if (round === undefined) return;
    for (const node of members) {
      if (node === this.#context.selfId || round.asked.has(node)) continue;
      if (round.otherSide !== undefined && !round.otherSide.has(node)) continue;
      round.asked.add(node);
      round.waiting.add(node);
      this.#context
        .requestSync(node, Math.max(1, round.deadline - Date.now()))
        .catch((error: unknown) =>
          this.#context.logger.debug({ node, err: (error as Error).message }, 'sync request failed'),
        )
        .finally(() => {
          round.waiting.delete(node);
          this.#finishIfDone(round);
        });
    }
  }

  /** Reads a key this node owns while syncing: checked against the other side first, unless already. */
  read(keyspace: Keyspace, key: string, signal: AbortSignal | undefined): ReturnType<Keyspace['read']> {
    const checking = this.check(keyspace, key);
    if (checking === undefined) return keyspace.read(key, signal);
    return waitFor(checking, signal).then(() => keyspace.read(key, signal) as Promise<ReadResult | undefined>);
  }

  /** Whether this node's copy of `key` (or its absence) can be trusted now. */
  isChecked(keyspace: Keyspace, key: string): boolean {
    const round = this.#round;
    if (round === undefined) return true;
    const copy = keyspace.copyOf(key);
    if (round.checked.get(keyspace.name)?.has(key)) return true;
    return copy !== undefined && copy.version > round.floor && !(round.merged.get(keyspace.name)?.has(key) ?? false);
  }

  /** Checks `key` against the other side, once for every concurrent caller; undefined when there is nothing to check. */
  check(keyspace: Keyspace, key: string): Promise<void> | undefined {
    if (this.isChecked(keyspace, key)) return undefined;
    return this.#checks.do(`${keyspace.name}\u0000${key}`, () => this.#check(this.#round!, keyspace, key));
  }

  /** A copy of `key` from another node was applied here: while syncing, it is checked before it is trusted. */
  merged(keyspace: Keyspace, key: string): void {
    const round = this.#round;
    if (round === undefined) return;
    let merged = round.merged.get(keyspace.name);
    if (merged === undefined) round.merged.set(keyspace.name, (merged = new Set()));
    merged.add(key);
  }

  /** Ends the sync in progress (the node is stopping). */
  stop(): void {
    if (this.#round !== undefined) this.#finish(this.#round, 'stopping');
  }

  /** Peeks the first reachable member of the other side, in the key's rendezvous order, and merges its copy. */
  async #check(round: Round, keyspace: Keyspace, key: string): Promise<void> {
    const { selfId, placement, logger } = this.#context;
    const checkedBefore = round.checked;
    const side = round.otherSide === undefined ? this.#context.others() : [...round.otherSide];
    const candidates = placement.rankAmong(
      side.filter((node) => node !== selfId),
      keyspace.name,
      key,
    );
    for (const node of candidates) {
      try {
        const copy = await this.#context.peek(node, keyspace, key);
        if (copy !== undefined) keyspace.merge(key, copy);
        break;
      } catch (error) {
        if (!isUnreachable(error)) {
          logger.debug({ node, key, err: (error as Error).message }, 'sync check failed; keeping this copy');
          break;
        }
      }
    }
    if (this.#round !== round || round.checked !== checkedBefore) return; // the round widened meanwhile
    let checked = round.checked.get(keyspace.name);
    if (checked === undefined) round.checked.set(keyspace.name, (checked = new Set()));
    checked.add(key);
  }

  /** Ends the round once every member asked is done and the minimum time has passed, or at the deadline. */
  #finishIfDone(round: Round): void {
    if (this.#round !== round) return;
    const now = Date.now();
    if (now >= round.deadline) return this.#finish(round, 'deadline');
    if (round.waiting.size > 0) return;
    if (now - round.began >= SYNC_MINIMUM_MS) return this.#finish(round, 'every member asked sent its entries');
    this.#wakeAt(round, round.began + SYNC_MINIMUM_MS - now);
  }

  /** Looks at the round again after `delayMs` (the minimum time), and at the deadline while members are still sending. */
  #wakeAt(round: Round, delayMs: number): void {
    clearTimeout(round.timer);
    round.timer = setTimeout(() => {
      round.timer = undefined;
      this.#finishIfDone(round);
      if (this.#round === round && round.timer === undefined)
        round.timer = setTimeout(() => this.#finishIfDone(round), Math.max(1, round.deadline - Date.now()));
    }, delayMs);
  }

  /** Resolves once no sync is in progress. */
  idle(): Promise<void> {
    if (this.#round === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #finish(round: Round, why: string): void {
    if (this.#round !== round) return;
    clearTimeout(round.timer);
    this.#round = undefined;
    this.#context.logger.info({ reason: round.reason, why, asked: round.asked.size }, 'sync done');
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
