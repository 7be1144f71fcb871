import { waitFor } from '../abort.js';
import { DistCacheError, ErrorCode, isDistCacheError } from '../errors.js';
import { validateKey } from '../keyspace/entry-input.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import type { GetResult, PreparedPut, ReadResult } from '../keyspace/types.js';
import { TOMBSTONE, type VersionedCopy } from '../keyspace/versions.js';
import type { HybridLogicalClock } from '../lib/hybrid-logical-clock.js';
import { SingleFlight, type Flight } from '../lib/single-flight.js';
import { BackgroundWrites } from './background-writes.js';
import { CopyBatches } from './copy-batches.js';
import type { CopyHolders } from './copy-holders.js';
import type { HandoffEntry } from './handoff.js';
import type { HotCache } from './hot-cache.js';
import { PeerReplyError, type PeerClient, type PeerRequest } from './peer-client.js';
import { MAX_KEYS_PER_GET_MANY, MessageType, type PeerReadEntry } from './peer-codec.js';
import { isUnreachable } from './peer-errors.js';
import { VERSIONS_SINCE } from './peer-handshake.js';
import type { Placement } from './placement.js';
import type { Resync } from './resync.js';
import { TOMBSTONE_TTL_MS } from './settings.js';

/** Extra time a peer request gets on top of the owner's own read or write timeout. */
export const PEER_MARGIN_MS = 1_000;

/** A key of a GET_MANY: its flight on this node, and how to settle it. */
interface BatchedRead {
  readonly key: string;
  readonly flight: Flight;
  resolve(read: ReadResult | undefined | Promise<ReadResult | undefined>): void;
}

/** What the router needs from the rest of the cluster. */
export interface RouterContext {
  readonly selfId: string;
  readonly placement: Placement;
  readonly hot: HotCache;
  /** Stamps every write this node makes. */
  readonly clock: HybridLogicalClock;
  /** While this node syncs, the reads of the keys it owns go through it. */
  readonly resync: Resync;
  /** The nodes this node answered reads of each key: they may hold hot copies. */
  readonly holders: CopyHolders;
  client(id: string): PeerClient;
  /** A copy of an async write did not reach `node` (it gets it from a later handoff or sync, if ever). */
  replicationFailed(keyspace: string, node: string, error: unknown): void;
}

/**
 * Sends each read and write to the node that owns the key. Reads: this node's
 * own path when it is the owner; else its hot copy; else one request to the
 * owner (collapsed across concurrent callers), falling back to the next node
 * in rendezvous order when the owner cannot be reached. Writes: to the owner
 * and its replicas, and acknowledged invalidations only where a copy may be,
 * so a write costs O(copies), not O(members), and a read after the write
 * returns it from any node:
 *   - each node that writes a key (an owner, a stand-in) invalidates the
 *     nodes it answered reads of that key within the hot-copy lifetime, after
 *     its write and before it acknowledges it;
 *   - the writer also invalidates the node ranked right after the owners: the
 *     owner before the last topology change (it may hold the key in its store,
 *     and readers with a view that lags may still ask it), and the first
 *     fallback while an owner cannot be reached; it forwards the invalidation
 *     to the nodes it answered.
 * Every write carries a version this node's clock stamped; each owner
 * stores it above anything it held, and invalidations carry it too.
 *
 * A keyspace with `replication: 'async'` acknowledges a write once one owner
 * holds it (see {@link put}); the other copies go as versioned copies that
 * each node merges only when newer, and the invalidations follow, all in the
 * background ({@link BackgroundWrites} bounds them).
 */
export class OwnerRouter {
  readonly #context: RouterContext;
  readonly #flights = new SingleFlight<ReadResult | undefined>();
  readonly #background = new BackgroundWrites();
  readonly #copies: CopyBatches;
  /** Times each keyspace was emptied here: an async write's copies made before that are not sent. */
  readonly #clears = new WeakMap<Keyspace, number>();

  constructor(context: RouterContext) {
    this.#context = context;
    this.#copies = new CopyBatches((node, keyspace, entries) => {
      const client = context.client(node);
      const timeout = keyspace.config.writeTimeout + PEER_MARGIN_MS;
      return client
        .request({ type: MessageType.HANDOFF, keyspace: keyspace.name, entries }, timeout)
        .catch(async (error: unknown) => {
          // A node speaking no entry versions (a rolling upgrade) refuses HANDOFF: it takes each copy as the
          // plain write a sync write would send it, in order on the one connection.
          const version = isUnreachable(error) ? await client.verify().catch(() => VERSIONS_SINCE) : VERSIONS_SINCE;
          if (version >= VERSIONS_SINCE) throw error;
          return Promise.all(entries.map((entry) => client.request(asWrite(keyspace.name, entry), timeout)));
        });
    });
  }

  /** Reads `key` wherever it lives. */
  get(
    keyspace: Keyspace,
    key: string,
    signal: AbortSignal | undefined,
  ): GetResult<unknown> | undefined | Promise<GetResult<unknown> | undefined> {
    validateKey(key);
    const name = keyspace.name;
    const primary = this.#context.placement.primary(name, key);
    if (primary === this.#context.selfId || this.#answersAsOwner(keyspace, key)) {
      if (!this.#context.resync.active) return keyspace.get(key, signal);
      const read = this.#context.resync.read(keyspace, key, signal);
      return read instanceof Promise ? read.then((r) => keyspace.toResult(key, r)) : keyspace.toResult(key, read);
    }
    const replica = keyspace.config.replicaReads ? this.#replicaCopy(keyspace, key) : undefined;
    if (replica !== undefined) return keyspace.toResult(key, replica);
    const hot = keyspace.config.hotCache ? this.#context.hot.get(name, key) : undefined;
    if (hot !== undefined) return keyspace.toResult(key, hot);
    const loading = this.#flights.do(flightKey(name, key), (flight) => this.#fetch(keyspace, key, primary, flight));
    return waitFor(loading, signal).then((read) => keyspace.toResult(key, read));
  }

  /**
   * Starts the remote reads of a getMany at once: of the keys other nodes own,
   * those this node has no copy of and is not reading yet, grouped by owner,
   * one GET_MANY to each owner asked for two keys or more (the owner loads its
   * misses as one batch). Each key's read is a flight on this node, so the
   * gets that follow, and any concurrent get of the key, wait on it. Invalid
   * keys are left for the gets to report.
   */
  prefetch(keyspace: Keyspace, keys: readonly string[]): void {
    for (const [owner, ownerKeys] of this.#remoteKeysByOwner(keyspace, keys)) {
      if (ownerKeys.size < 2) continue; // a lone key goes as the get's own GET
      let batch: BatchedRead[] = [];
      for (const key of ownerKeys) {
        void this.#flights.do(
          flightKey(keyspace.name, key),
          (flight) => new Promise((resolve) => batch.push({ key, flight, resolve })),
        );
        if (batch.length === MAX_KEYS_PER_GET_MANY) {
          this.#askMany(keyspace, owner, batch);
          batch = [];
        }
      }
      if (batch.length > 0) this.#askMany(keyspace, owner, batch);
    }
  }

  /** The keys a getMany has to ask other nodes for, by owner. */
  #remoteKeysByOwner(keyspace: Keyspace, keys: readonly string[]): Map<string, Set<string>> {
    const { name, hotCache } = keyspace.config;
    const byOwner = new Map<string, Set<string>>();
    for (const key of keys) {
      if (!isValidKey(key)) continue;
      const owner = this.#context.placement.primary(name, key);
      if (owner === this.#context.selfId || this.#flights.isRunning(flightKey(name, key))) continue;
      if (this.#answersAsOwner(keyspace, key)) continue;
      if (keyspace.config.replicaReads && this.#ownsCopy(keyspace, key) && keyspace.has(key)) continue;
      if (hotCache && this.#context.hot.get(name, key) !== undefined) continue;
      let ownerKeys = byOwner.get(owner);
      if (ownerKeys === undefined) byOwner.set(owner, (ownerKeys = new Set()));
      ownerKeys.add(key);
    }
    return byOwner;
  }

  /**
   * Sends one GET_MANY and settles each key's read from its entry. A key the
   * owner failed, skipped, or could not be asked for goes the way a single
   * read does: the owner alone, then the next nodes when it cannot be reached.
   */
  #askMany(keyspace: Keyspace, owner: string, batch: BatchedRead[]): void {
    const keys = batch.map((read) => read.key);
    const askedAt = Date.now();
    this.#context
      .client(owner)
      .request(
        { type: MessageType.GET_MANY, keyspace: keyspace.name, keys },
        keyspace.config.readTimeout + PEER_MARGIN_MS,
      )
      .then((reply) => {
        if (reply.type !== MessageType.VALUES || reply.entries.length !== batch.length)
          throw new DistCacheError(
            ErrorCode.PROTOCOL,
            `peer ${owner} answered a GET_MANY of ${batch.length} keys with message type ${reply.type}`,
          );
        for (const [i, read] of batch.entries())
          read.resolve(this.#settle(keyspace, owner, read, reply.entries[i]!, askedAt));
      })
      .catch((error: unknown) => {
        for (const read of batch) read.resolve(this.#fallBack(keyspace, read.key, owner, read.flight, error));
      });
  }

  /** One key's read from its GET_MANY entry. */
  #settle(
    keyspace: Keyspace,
    owner: string,
    { key, flight }: BatchedRead,
    entry: PeerReadEntry,
    askedAt: number,
  ): ReadResult | undefined | Promise<ReadResult | undefined> {
    switch (entry.status) {
      case 'found':
        return this.#received(keyspace, key, flight, entry.value, entry.expiresAt, askedAt);
      case 'not_found':
        return this.#received(keyspace, key, flight, null, entry.expiresAt, askedAt);
      case 'error':
        return this.#fallBack(
          keyspace,
          key,
          owner,
          flight,
          new PeerReplyError(entry.code as ErrorCode, `peer ${owner}: ${entry.message}`),
        );
      case 'skipped':
        return this.#fetch(keyspace, key, owner, flight);
    }
  }

  /**
   * Writes a prepared entry to `replicaCount` nodes, trying further nodes when
   * one cannot be reached. With `ifAbsent`, the owner first decides, in one
   * step, whether the key is free; resolves false (writing nothing) when not.
   * With `replicaReads`, a replica holding a fresh copy refuses by itself, as
   * a read on it would find the key. With `replication: 'async'`, resolves once
   * one node holds it (see {@link #writeAsync}).
   */
  async put(keyspace: Keyspace, entry: PreparedPut, ifAbsent = false): Promise<boolean> {
    // A copy held from before a sync may be stale: check it before deciding whether the key is free.
    if (ifAbsent && this.#ownsCopy(keyspace, entry.key)) await this.#context.resync.check(keyspace, entry.key);
    // A replica that reads its own copy refuses on that copy too: the key is taken for every read here.
    if (
      ifAbsent &&
      keyspace.config.replicaReads &&
      this.#ownsCopy(keyspace, entry.key) &&
      keyspace.holdsValue(entry.key)
    )
      return false;
    const name = keyspace.name;
    const version = this.#context.clock.next();
    const request =
      (onlyIfAbsent: boolean) =>
      (standIn: boolean): PeerRequest => ({
        type: MessageType.VERSIONED_PUT,
        keyspace: name,
        key: entry.key,
        expiresAt: entry.expiry,
        ifAbsent: onlyIfAbsent,
        standIn,
        version,
        value: entry.bytes,
      });
    if (keyspace.config.replication === 'async')
      return this.#writeAsync(
        keyspace,
        entry.key,
        version,
        () => keyspace.commitPut(entry, ifAbsent, version),
        request(ifAbsent),
        ifAbsent,
        entry.expiry !== 0 && entry.expiry <= Date.now() ? undefined : { value: entry.bytes, expiresAt: entry.expiry },
      );
    let wroteHere = false;
    const holdersTold: Promise<void>[] = [];
    const writeHere = (onlyIfAbsent: boolean) => (): boolean => {
      const stored = keyspace.commitPut(entry, onlyIfAbsent, version);
      wroteHere ||= stored;
      const told = this.invalidateHolders(keyspace, entry.key, version);
      if (told !== undefined) holdersTold.push(told);
      return stored;
    };
    const ranked = this.#context.placement.rank(name, entry.key);
    // The former owner drops its copies while the owners write: a needless invalidation (the
    // key was taken) only costs a hot copy.
    const invalidated = this.#invalidateFormerOwner(keyspace, entry.key, ranked, version);
    if (!ifAbsent) {
      await this.#toOwners(keyspace, entry.key, ranked, writeHere(false), request(false));
    } else {
      const decided = await this.#toOwners(keyspace, entry.key, ranked, writeHere(true), request(true), 1);
      if (!decided.changed) {
        await Promise.all([invalidated, ...holdersTold]);
        return false;
      }
      // The node that decided holds the entry; the other copies go to the next nodes.
      const rest = ranked.filter((id) => !decided.acknowledgedBy.includes(id));
      if (keyspace.config.replicaCount > 1)
        await this.#toOwners(
          keyspace,
          entry.key,
          rest,
          writeHere(false),
          request(false),
          keyspace.config.replicaCount - 1,
        ).catch(ignoreUnreachable);
    }
    await Promise.all([invalidated, ...holdersTold]);
    this.#invalidate(keyspace, entry.key, ranked, wroteHere, version);
    return true;
  }

  /** Deletes `key` on its owner nodes; resolves whether any of them held it. */
  async delete(keyspace: Keyspace, key: string): Promise<boolean> {
    validateKey(key);
    const name = keyspace.name;
    const version = this.#context.clock.next();
    const request = (standIn: boolean): PeerRequest => ({
      type: MessageType.VERSIONED_DELETE,
      keyspace: name,
      key,
      standIn,
      version,
    });
    if (keyspace.config.replication === 'async')
      return this.#writeAsync(keyspace, key, version, () => keyspace.delete(key, version), request, false, undefined);
    const ranked = this.#context.placement.rank(name, key);
    const holdersTold: Promise<void>[] = [];
    const deleteHere = (): boolean => {
      const deleted = keyspace.delete(key, version);
      const told = this.invalidateHolders(keyspace, key, version);
      if (told !== undefined) holdersTold.push(told);
      return deleted;
    };
    const [{ changed: deleted }] = await Promise.all([
      this.#toOwners(keyspace, key, ranked, deleteHere, request),
      this.#invalidateFormerOwner(keyspace, key, ranked, version),
    ]);
    await Promise.all(holdersTold);
    this.#invalidate(keyspace, key, ranked, false, version);
    return deleted;
  }

  /**
   * Asks every other member to drop the keyspace `name`; resolves, once all
   * that answered did, the members that refused because they serve it
   * (ERR_KEYSPACE_IN_USE: their session listener).
   */
  async deleteKeyspace(name: string, memberIds: readonly string[], timeoutMs: number): Promise<string[]> {
    this.#context.hot.dropKeyspace(name);
    const others = memberIds.filter((id) => id !== this.#context.selfId);
    const results = await Promise.allSettled(
      others.map((id) =>
        this.#context.client(id).request({ type: MessageType.DELETE_KEYSPACE, keyspace: name }, timeoutMs),
      ),
    );
    return others.filter((_, index) => {
      const result = results[index]!;
      return result.status === 'rejected' && isDistCacheError(result.reason, ErrorCode.KEYSPACE_IN_USE);
    });
  }

  /**
   * Empties the keyspace `name` on every member: this node's entries, hot
   * copies and remote reads in progress, and the same on each other member.
   * Rejects with ERR_PEER_UNAVAILABLE naming the members that could not be
   * reached (they keep their entries); the others are emptied all the same.
   */
  async clearKeyspace(keyspace: Keyspace, memberIds: readonly string[], timeoutMs: number): Promise<void> {
    this.clearLocal(keyspace.name, keyspace);
    const others = memberIds.filter((id) => id !== this.#context.selfId);
    const results = await Promise.allSettled(
      others.map((id) =>
        this.#context.client(id).request({ type: MessageType.CLEAR_KEYSPACE, keyspace: keyspace.name }, timeoutMs),
      ),
    );
    const missed = others.filter((_, index) => results[index]!.status === 'rejected');
    if (missed.length > 0)
      throw new DistCacheError(
        ErrorCode.PEER_UNAVAILABLE,
        `keyspace "${keyspace.name}" was emptied except on ${missed.join(', ')}, which did not confirm`,
        { cause: (results.find((result) => result.status === 'rejected') as PromiseRejectedResult).reason },
      );
  }

  /**
   * Empties the keyspace on this node only: its entries, its hot copies, and
   * remote reads that would keep one. It keeps the nodes it answered reads
   * for: a holder that has not applied the flush yet (or never will, if it
   * missed it) must still be invalidated by the next write of a key.
   */
  clearLocal(name: string, keyspace: Keyspace | undefined): void {
    this.#context.hot.dropKeyspace(name);
    this.#flights.supersedeAll();
    if (keyspace !== undefined) this.#clears.set(keyspace, (this.#clears.get(keyspace) ?? 0) + 1);
    this.#copies.drop(name);
    keyspace?.clear();
  }

  /**
   * Applies an invalidation another node sent, for a write of `version`
   * (UNKNOWN_VERSION: of unknown version), and passes it on to the nodes this one
   * answered reads of `key`.
   */
  onInvalidation(keyspace: Keyspace, key: string, version: number): Promise<void> | undefined {
    this.#invalidate(keyspace, key, this.#context.placement.rank(keyspace.name, key), false, version);
    return this.invalidateHolders(keyspace, key, version);
  }

  /**
   * Invalidates `key` on the nodes this node answered reads of it within the
   * hot-copy lifetime (every member when it could not keep track, once per
   * key until it hands out another copy it cannot record: see CopyHolders),
   * once, for a write of `version`; resolves when they answered, or is
   * undefined when there is no one to tell. Call it after writing the key
   * here. A node that cannot be reached is left to its hot copy's short
   * lifetime.
   */
  invalidateHolders(keyspace: Keyspace, key: string, version: number): Promise<void> | undefined {
    const holders = this.#context.holders.take(keyspace.name, key, Date.now());
    const { selfId, placement } = this.#context;
    const targets = (holders === 'everyone' ? placement.members : holders).filter((id) => id !== selfId);
    return targets.length === 0 ? undefined : this.#sendInvalidations(keyspace, key, targets, version);
  }

  /** Remote reads in progress and async writes' background work, for a graceful stop to wait on. */
  running(): Promise<unknown>[] {
    return [...this.#flights.running(), this.#background.idle()];
  }

  /** Async writes whose copies are on their way, and those waiting for room. */
  get replicating(): { running: number; waiting: number } {
    return this.#background.pending;
  }

  /**
   * A write of `replication: 'async'`: done on one node, this one first when
   * it owns the key, else the first that answers in rendezvous order (as
   * {@link #toOwners} tries them), which decides an `ifAbsent` put alone.
   * Then, in the background, the other owners get the resulting copy (each
   * merges it only when newer) and the nodes that may hold copies are
   * invalidated; resolves once that work has started (at once, unless
   * {@link BackgroundWrites} is full). `written`: the value a put stored
   * (undefined: a delete, or a put already expired, which leaves a tombstone).
   * Resolves false when an `ifAbsent` put wrote nothing; for a delete,
   * whether the node that did it held the key.
   */
  async #writeAsync(
    keyspace: Keyspace,
    key: string,
    version: number,
    local: () => boolean,
    request: (standIn: boolean) => PeerRequest,
    ifAbsent: boolean,
    written: { value: Uint8Array; expiresAt: number } | undefined,
  ): Promise<boolean> {
    const { selfId, placement } = this.#context;
    const { name, replicaCount } = keyspace.config;
    // Every member owns every key when there are no more members than copies: no ranking needed.
    const ranked = placement.members.length <= replicaCount ? placement.members : placement.rank(name, key);
    let changed: boolean;
    let by: string;
    if (placement.isOwner(name, key, replicaCount, selfId)) {
      changed = local();
      by = selfId;
    } else {
      const done = await this.#toOwners(keyspace, key, ranked, local, request, 1);
      changed = done.changed;
      by = done.acknowledgedBy[0]!;
    }
    if (ifAbsent && !changed) return false;
    const wroteHere = by === selfId;
    this.#invalidate(keyspace, key, ranked, wroteHere, version);
    const copy: VersionedCopy = (wroteHere ? keyspace.copyOf(key) : undefined) ?? {
      value: written?.value ?? TOMBSTONE,
      expiresAt: written?.expiresAt ?? Date.now() + TOMBSTONE_TTL_MS,
      version,
    };
    const others = ranked.slice(0, replicaCount).filter((id) => id !== by);
    const clears = this.#clears.get(keyspace) ?? 0;
    const started = this.#background.start(copy.value?.byteLength ?? 0, () =>
      this.#replicate(keyspace, key, copy, (this.#clears.get(keyspace) ?? 0) === clears ? others : [], ranked),
    );
    if (started !== undefined) await started;
    return changed;
  }

  /**
   * An async write's background work: its copy to `nodes` (batched with the
   * other copies bound for the same node, see {@link CopyBatches}), and the
   * invalidations a sync write makes; resolves once all are done or failed.
   */
  #replicate(
    keyspace: Keyspace,
    key: string,
    copy: VersionedCopy,
    nodes: readonly string[],
    ranked: readonly string[],
  ): Promise<void> {
    const name = keyspace.name;
    const entry = { key, copy };
    const sends = nodes.map(
      (node) =>
        new Promise<void>((resolve) =>
          this.#copies.send(node, keyspace, entry, (error) => {
            if (error !== undefined) this.#context.replicationFailed(name, node, error);
            resolve();
          }),
        ),
    );
    return Promise.all([
      ...sends,
      this.invalidateHolders(keyspace, key, copy.version),
      this.#invalidateFormerOwner(keyspace, key, ranked, copy.version),
    ]).then(() => undefined);
  }

  /**
   * One remote read: the owner first; when it cannot be reached, each next
   * node in rendezvous order, this node loading itself when its turn comes.
   * The first try is a plain promise chain, not an async function: it is the
   * hot path of every remote read, and allocates less that way.
   */
  #fetch(keyspace: Keyspace, key: string, primary: string, flight: Flight): Promise<ReadResult | undefined> {
    return this.#ask(keyspace, key, primary, flight).catch((error: unknown) =>
      this.#fallBack(keyspace, key, primary, flight, error),
    );
  }

  /** Asks one node for `key`; keeps a hot copy of the answer. */
  #ask(keyspace: Keyspace, key: string, node: string, flight: Flight): Promise<ReadResult> {
    const name = keyspace.name;
    const askedAt = Date.now();
    return this.#context
      .client(node)
      .request({ type: MessageType.GET, keyspace: name, key }, keyspace.config.readTimeout + PEER_MARGIN_MS)
      .then((reply) => {
        if (reply.type !== MessageType.VALUE)
          throw new DistCacheError(ErrorCode.PROTOCOL, `peer ${node} answered a GET with message type ${reply.type}`);
        return this.#received(keyspace, key, flight, reply.found ? reply.value : null, reply.expiresAt, askedAt);
      });
  }

  /**
   * A value another node answered, as a read: stale when it had expired there
   * (served by `staleWhileRevalidate` or `staleIfError`). A fresh one is kept as a hot copy,
   * for at most the hot-copy lifetime from `askedAt`, when the request left.
   */
  #received(
    keyspace: Keyspace,
    key: string,
    flight: Flight,
    value: Uint8Array | null,
    expiresAt: number,
    askedAt: number,
  ): ReadResult {
    if (value !== null && expiresAt !== 0 && expiresAt <= Date.now()) return { value, expiresAt, stale: true };
    if (!flight.superseded && keyspace.config.hotCache)
      this.#context.hot.set(keyspace.name, keyspace.config.maxBytes, key, value, expiresAt, askedAt);
    return { value, expiresAt };
  }

  /** This node's own copy of `key` when it is one of its replicas (`replicaReads`) and can be trusted now, or undefined. */
  #replicaCopy(keyspace: Keyspace, key: string): ReadResult | undefined {
    return this.#ownsCopy(keyspace, key) && this.#context.resync.isChecked(keyspace, key)
      ? keyspace.readCached(key)
      : undefined;
  }

  /**
   * Whether this node answers reads of `key` as its primary does, a miss
   * included: an owner of an async keyspace with `replicaReads` (it decides
   * the key's `ifAbsent` puts alone too, so its reads agree with them). Of a
   * sync keyspace, a replica without a copy asks the primary.
   */
  #answersAsOwner(keyspace: Keyspace, key: string): boolean {
    const { replication, replicaReads } = keyspace.config;
    return replication === 'async' && replicaReads && this.#ownsCopy(keyspace, key);
  }

  /** Whether this node holds one of several copies of `key` (`replicaCount` 2 or more). */
  #ownsCopy(keyspace: Keyspace, key: string): boolean {
    const { replicaCount, name } = keyspace.config;
    return replicaCount > 1 && this.#context.placement.isOwner(name, key, replicaCount, this.#context.selfId);
  }

  /** After the owner could not be reached: the other members in rendezvous order. */
  async #fallBack(
    keyspace: Keyspace,
    key: string,
    primary: string,
    flight: Flight,
    firstError: unknown,
  ): Promise<ReadResult | undefined> {
    if (!isUnreachable(firstError)) throw firstError;
    let lastError = firstError;
    for (const candidate of this.#context.placement.rank(keyspace.name, key)) {
      if (candidate === primary) continue;
      if (candidate === this.#context.selfId) {
        const { resync } = this.#context;
        return resync.active ? resync.read(keyspace, key, undefined) : keyspace.read(key, undefined);
      }
      try {
        return await this.#ask(keyspace, key, candidate, flight);
      } catch (error) {
        if (!isUnreachable(error)) throw error;
        lastError = error;
      }
    }
    throw new DistCacheError(
      ErrorCode.PEER_UNAVAILABLE,
      `keyspace "${keyspace.name}": no node could serve key ${JSON.stringify(key)}`,
      { cause: lastError },
    );
  }

  /**
   * Runs a write on `copies` (default replicaCount) nodes: the owners first, and for each
   * owner that cannot be reached the next node in rendezvous order (a stand-in:
   * it keeps the copy rather than forwarding it to the owner), so an
   * acknowledged write has that many copies whenever that many nodes answer.
   * Resolves whether any node reported a change (`delete`, a stored `ifAbsent`)
   * and which nodes acknowledged.
   */
  async #toOwners(
    keyspace: Keyspace,
    key: string,
    ranked: readonly string[],
    local: () => unknown,
    request: (standIn: boolean) => PeerRequest,
    copies = keyspace.config.replicaCount,
  ): Promise<{ changed: boolean; acknowledgedBy: string[] }> {
    const owners = ranked.slice(0, keyspace.config.replicaCount);
    const timeout = keyspace.config.writeTimeout + PEER_MARGIN_MS;
    const acknowledgedBy: string[] = [];
    let changed = false;
    let lastError: unknown;
    for (let next = 0; next < ranked.length && acknowledgedBy.length < copies;) {
      const batch = ranked.slice(next, next + copies - acknowledgedBy.length);
      next += batch.length;
      const results = await Promise.allSettled(
        batch.map(async (id) => {
          if (id === this.#context.selfId) return local() !== false;
          const reply = await this.#context.client(id).request(request(!owners.includes(id)), timeout);
          return reply.type === MessageType.OK && reply.flag;
        }),
      );
      for (const [index, result] of results.entries()) {
        if (result.status === 'fulfilled') {
          acknowledgedBy.push(batch[index]!);
          changed ||= result.value;
        } else if (!isUnreachable(result.reason)) {
          throw result.reason;
        } else {
          lastError = result.reason;
        }
      }
    }
    if (acknowledgedBy.length === 0) {
      throw new DistCacheError(
        ErrorCode.PEER_UNAVAILABLE,
        `keyspace "${keyspace.name}": no node acknowledged the write of key ${JSON.stringify(key)}`,
        { cause: lastError },
      );
    }
    return { changed, acknowledgedBy };
  }

  /**
   * Drops the hot copy of `key` here. A node that is not an owner also drops
   * a main-store copy older than the write (one a stand-in write left, or a
   * handoff that came ahead of a membership change), unless this very write
   * just stored it there: it must not be found later, should this node own
   * the key again.
   */
  #invalidate(keyspace: Keyspace, key: string, ranked: readonly string[], wroteHere: boolean, version: number): void {
    const name = keyspace.name;
    this.#context.hot.delete(name, key);
    this.#flights.supersede(flightKey(name, key));
    const owners = ranked.slice(0, keyspace.config.replicaCount);
    if (wroteHere || owners.includes(this.#context.selfId)) return;
    const held = keyspace.copyOf(key);
    if (held !== undefined && held.version < version) keyspace.discard(key);
  }

  /** Invalidates `key` on the node ranked right after the owners (see the class comment), unless that is this one. */
  #invalidateFormerOwner(keyspace: Keyspace, key: string, ranked: readonly string[], version: number): Promise<void> {
    const next = ranked[keyspace.config.replicaCount];
    return next === undefined || next === this.#context.selfId
      ? Promise.resolve()
      : this.#sendInvalidations(keyspace, key, [next], version);
  }

  /** Sends an INVALIDATE of `key` for a write of `version` to each of `targets`; resolves once each answered or failed. */
  async #sendInvalidations(
    keyspace: Keyspace,
    key: string,
    targets: readonly string[],
    version: number,
  ): Promise<void> {
    const timeout = keyspace.config.writeTimeout + PEER_MARGIN_MS;
    const request = { type: MessageType.VERSIONED_INVALIDATE, keyspace: keyspace.name, key, version } as const;
    await Promise.allSettled(targets.map((id) => this.#context.client(id).request(request, timeout)));
  }
}

/** Whether `key` is a key a get would accept (else the get reports why). */
function isValidKey(key: unknown): key is string {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}

function flightKey(name: string, key: string): string {
  return `${name}\u0000${key}`;
}

/** A copy as the write that makes it (a delete for a tombstone), for a node that takes no copies. */
function asWrite(keyspace: string, { key, copy }: HandoffEntry): PeerRequest {
  const { value, expiresAt, version } = copy;
  if (value === null || value === TOMBSTONE)
    return { type: MessageType.VERSIONED_DELETE, keyspace, key, standIn: false, version };
  return { type: MessageType.VERSIONED_PUT, keyspace, key, expiresAt, ifAbsent: false, standIn: false, version, value };
}

/** Swallows a failure to reach any further node: a write with fewer copies still stands, as with any write. */
function ignoreUnreachable(error: unknown): void {
  if (!isDistCacheError(error, ErrorCode.PEER_UNAVAILABLE)) throw error;
}
