import type { Keyspace } from '../keyspace/keyspace.js';
import type { VersionedCopy } from '../keyspace/versions.js';
import { CoalescedRun } from '../lib/coalesced-run.js';
import type { HybridLogicalClock } from '../lib/hybrid-logical-clock.js';
import type { Logger } from '../logger.js';
import { Handoff, type HandoffEntry } from './handoff.js';
import type { HotCache } from './hot-cache.js';
import { PauseDetector } from './pause-detector.js';
import type { Placement } from './placement.js';
import { Resync, SYNC_DEADLINE_MS } from './resync.js';

/** Stand-in copies remembered for delivery to their owners; past it the oldest are forgotten. */
const MAX_HINTS = 10_000;
/** How often stand-in copies are offered to their owners. */
const HINT_INTERVAL_MS = 1_000;
/** Offers of one stand-in copy before it is forgotten (its owner stays unreachable: it will be declared dead). */
const HINT_ATTEMPTS = 30;
/** Time before copies no owner took are offered again (the members' views differ while a change spreads). */
const RECONCILE_RETRY_MS = 1_000;
/** Offers of those copies before waiting for the next membership change. */
const RECONCILE_RETRIES = 30;

/** What the coordinator needs from the cluster. */
export interface CopyCoordinatorContext {
  readonly selfId: string;
  /** The current view: admitted members. */
  readonly placement: Placement;
  readonly clock: HybridLogicalClock;
  readonly hot: HotCache;
  readonly logger: Logger;
  /** This node's keyspaces. */
  keyspaces(): readonly Keyspace[];
  /** Every other member this node knows, admitted or not. */
  others(): readonly string[];
  /** A pause longer than this (ms) may have got this node declared dead. */
  readonly declaredDeadAfter: number;
  /** Sends copies of a keyspace to `node`; resolves, once it merged them, whether it owns them all. */
  sendCopies(node: string, keyspaceName: string, entries: readonly HandoffEntry[]): Promise<boolean>;
  /** Asks `node` for its copy of `key` without loading; undefined when it holds none. */
  peek(node: string, keyspace: Keyspace, key: string): Promise<VersionedCopy | undefined>;
  /** Asks `node` to send the entries this node owns; resolves once it did. */
  requestSync(node: string, timeoutMs: number): Promise<void>;
}

/**
 * Keeps the newest copy of every key on its owners while membership
 * changes (issue 15's consistency rule):
 *
 * - when the admitted members change, hands off the entries whose owners
 *   changed and drops those this node no longer owns ({@link Handoff});
 * - when this node starts, learns that the others declared it dead, wakes
 *   from a pause longer than they take to do so, or sees members it had
 *   declared dead come back, syncs ({@link Resync});
 * - answers the sync requests of other nodes once it admitted them;
 * - before a graceful stop, hands its entries to the owners they will have
 *   without it, and from then on forwards the writes it still receives.
 */
export class CopyCoordinator {
  readonly #context: CopyCoordinatorContext;
  readonly #handoff: Handoff;
  readonly resync: Resync;
  readonly #pauses: PauseDetector;
  /** The members the store was last reconciled with. */
  #reconciledWith: readonly string[];
  readonly #reconciles = new CoalescedRun(() => this.#reconcile());
  #reconcileRetry: NodeJS.Timeout | undefined;
  /** Reconciles in a row that left copies no owner took. */
  #retries = 0;
  /** Members this node declared dead: their return means this node may have missed writes they took. */
  readonly #declaredDead = new Set<string>();
  /** Sync requests of other nodes waiting for this node to admit them. */
  readonly #waitingForAdmission = new Map<string, (() => void)[]>();
  /** Set once this node hands off before leaving: the view it hands off to. */
  #leavingTo: Placement | undefined;
  /**
   * Writes this node took as a stand-in for an owner that could not be
   * reached (hinted handoff, as in Dynamo): keyspace and key, with the
   * offers made so far. Once the owner answers, it gets the copy.
   */
  readonly #hints = new Map<string, { keyspace: string; key: string; attempts: number }>();
  #hintTimer: NodeJS.Timeout | undefined;
  #delivering = false;
  #stopped = false;

  constructor(context: CopyCoordinatorContext) {
    this.#context = context;
    this.#reconciledWith = context.placement.members;
    this.#handoff = new Handoff({
      selfId: context.selfId,
      keyspaces: () => context.keyspaces(),
      send: (node, name, entries) => context.sendCopies(node, name, entries),
      logger: context.logger,
    });
    this.resync = new Resync(context);
    this.#pauses = new PauseDetector(context.declaredDeadAfter, (pausedMs) => {
      context.logger.warn({ pausedMs }, 'this process was paused long enough to be declared dead; syncing');
      this.resync.start('paused');
    });
  }

  /** This node joined the cluster: it syncs against every member. */
  joined(): void {
    this.resync.start('started');
  }

  /** The admitted members changed: reconcile the store, ask new members to sync this node, wake their waiters. */
  membersChanged(added: readonly string[]): void {
    if (this.#stopped) return;
    this.#retries = 0;
    this.#reconciles.request();
    this.resync.ask(added);
    for (const id of added) {
      const waiters = this.#waitingForAdmission.get(id);
      this.#waitingForAdmission.delete(id);
      for (const wake of waiters ?? []) wake();
    }
  }

  /** Other members had declared this node dead: what it holds may be older than their copies. */
  declaredSelfDead(): void {
    if (this.#stopped) return;
    this.resync.start('declared dead');
  }

  /** Membership declared `id` dead. */
  declaredDead(id: string): void {
    this.#declaredDead.add(id);
  }

  /** `id` is alive again: if this node had declared it dead, either side may hold writes the other missed. */
  alive(id: string): void {
    if (!this.#declaredDead.delete(id) || this.#stopped) return;
    this.resync.start('members returned', [id]);
  }

  /**
   * Another node asks for the entries it owns: once this node admitted it
   * (so both agree it owns them, and writes from now on reach it) and any
   * handoff under way is done, sends them; resolves the number sent.
   */
  async serveSync(requester: string): Promise<number> {
    await this.#admitted(requester, SYNC_DEADLINE_MS);
    await this.#reconciles.running;
    return this.#handoff.pushOwnedBy(requester, this.#viewFor(requester));
  }

  /**
   * Copies another node sent: each applied when newer than the one held
   * (then `applied` is called with its key and version).
   * Returns whether this node owns every one of the keys (then the sender
   * drops its copies).
   */
  merge(
    keyspace: Keyspace,
    entries: readonly HandoffEntry[],
    applied: (key: string, version: number) => void = () => {},
  ): boolean {
    const view = this.#leavingTo ?? this.#context.placement;
    const { replicaCount, name } = keyspace.config;
    let ownsAll = this.#leavingTo === undefined;
    for (const { key, copy } of entries) {
      if (keyspace.merge(key, copy)) {
        this.resync.merged(keyspace, key);
        applied(key, copy.version);
      }
      ownsAll &&= view.isOwner(name, key, replicaCount, this.#context.selfId);
    }
    return ownsAll;
  }

  /**
   * After a write applied here: when this node does not own `key` (the
   * writer's view differs from this node's, or this node is leaving), sends
   * the resulting copy on to the key's owners, so the write is where reads
   * will look. A `standIn` write (the writer could not reach an owner) is
   * kept here and offered to the owners every second until one takes it or
   * this node owns the key. Returns undefined when there is nothing to wait for.
   */
  forward(keyspace: Keyspace, key: string, standIn: boolean): Promise<void> | undefined {
    if (standIn) {
      this.#hint(keyspace.name, key);
      return undefined;
    }
    const view = this.#leavingTo ?? this.#context.placement;
    const { replicaCount, name } = keyspace.config;
    if (view.members.length === 0 || view.isOwner(name, key, replicaCount, this.#context.selfId)) return undefined;
    const copy = keyspace.copyOf(key);
    if (copy === undefined) return undefined;
    const sends = view
      .owners(name, key, replicaCount)
      .map((node) => this.#context.sendCopies(node, name, [{ key, copy }]));
    return Promise.allSettled(sends).then(() => undefined);
  }

  /**
   * Before a graceful stop: hands every entry to the owners it will have
   * once this node is gone, and from then on forwards the writes that still
   * reach it. Resolves the number of entries sent.
   */
  async handOffBeforeLeaving(): Promise<number> {
    const { placement, selfId } = this.#context;
    const without = placement.withMembers(placement.members.filter((id) => id !== selfId));
    this.#leavingTo = without;
    if (without.members.length === 0) return 0;
    return this.#handoff.handOffBeforeLeaving(placement, without);
  }

  /** Stops the timers; a handoff in progress finishes on its own. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#pauses.stop();
    clearTimeout(this.#reconcileRetry);
    clearInterval(this.#hintTimer);
    this.#hints.clear();
    this.resync.stop();
    for (const waiters of this.#waitingForAdmission.values()) for (const wake of waiters) wake();
    this.#waitingForAdmission.clear();
    await this.#reconciles.running;
  }

  #hint(keyspaceName: string, key: string): void {
    if (this.#stopped) return;
    const id = `${keyspaceName}\u0000${key}`;
    this.#hints.delete(id);
    if (this.#hints.size >= MAX_HINTS) this.#hints.delete(this.#hints.keys().next().value!);
    this.#hints.set(id, { keyspace: keyspaceName, key, attempts: 0 });
    this.#hintTimer ??= setInterval(() => {
      if (this.#delivering) return;
      this.#delivering = true;
      void this.#deliverHints().finally(() => (this.#delivering = false));
    }, HINT_INTERVAL_MS);
  }

  /** Offers each stand-in copy to its owners; forgets those delivered, owned here now, or offered too often. */
  async #deliverHints(): Promise<void> {
    const { selfId, placement } = this.#context;
    const keyspaces = new Map(this.#context.keyspaces().map((keyspace) => [keyspace.name, keyspace]));
    await Promise.all(
      [...this.#hints].map(async ([id, hint]) => {
        const keyspace = keyspaces.get(hint.keyspace);
        const copy = keyspace?.copyOf(hint.key);
        const { replicaCount } = keyspace?.config ?? { replicaCount: 1 };
        if (copy === undefined || placement.isOwner(hint.keyspace, hint.key, replicaCount, selfId)) {
          this.#hints.delete(id);
          return;
        }
        const owners = placement.owners(hint.keyspace, hint.key, replicaCount);
        const sent = await Promise.allSettled(
          owners.map((node) => this.#context.sendCopies(node, hint.keyspace, [{ key: hint.key, copy }])),
        );
        if (sent.every((result) => result.status === 'fulfilled') || ++hint.attempts >= HINT_ATTEMPTS)
          this.#hints.delete(id);
      }),
    );
    if (this.#hints.size === 0) {
      clearInterval(this.#hintTimer);
      this.#hintTimer = undefined;
    }
  }

  async #reconcile(): Promise<void> {
    const { placement, logger } = this.#context;
    clearTimeout(this.#reconcileRetry);
    const before = placement.withMembers(this.#reconciledWith);
    const view = placement.withMembers(placement.members);
    this.#reconciledWith = view.members;
    const { sent, unplaced } = await this.#handoff.reconcile(before, view, () => this.#context.placement);
    if (sent > 0) logger.info({ sent, unplaced, members: view.members }, 'handed off the entries whose owners changed');
    if (unplaced === 0 || this.#stopped || ++this.#retries > RECONCILE_RETRIES) {
      if (unplaced === 0) this.#retries = 0;
      return;
    }
    this.#reconcileRetry = setTimeout(() => this.#reconciles.request(), RECONCILE_RETRY_MS);
  }

  /** The view to compute `node`'s keys in: the current one, with `node` in it if not admitted (yet). */
  #viewFor(node: string): Placement {
    const { placement } = this.#context;
    return placement.members.includes(node) ? placement : placement.withMembers([...placement.members, node]);
  }

  /** Resolves once `id` is an admitted member, or after `timeoutMs`. */
  #admitted(id: string, timeoutMs: number): Promise<void> {
    if (this.#context.placement.members.includes(id) || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const waiters = this.#waitingForAdmission.get(id) ?? [];
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#waitingForAdmission.set(id, waiters);
    });
  }
}
