import { waitFor } from '../abort.js';
import { DistCacheError, ErrorCode, isDistCacheError } from '../errors.js';
import { validateKey } from '../keyspace/entry-input.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import type { GetResult, PreparedPut, ReadResult } from '../keyspace/types.js';
import { SingleFlight, type Flight } from '../lib/single-flight.js';
import type { CopyHolders } from './copy-holders.js';
import type { HotCache } from './hot-cache.js';
import { PeerReplyError, type PeerClient, type PeerRequest } from './peer-client.js';
import { MessageType } from './peer-codec.js';
import type { Placement } from './placement.js';

/** Extra time a peer request gets on top of the owner's own read or write timeout. */
const PEER_MARGIN_MS = 1_000;

/** What the router needs from the rest of the cluster. */
export interface RouterContext {
  readonly selfId: string;
  readonly placement: Placement;
  readonly hot: HotCache;
  /** The nodes this node answered reads of each key: they may hold hot copies. */
  readonly holders: CopyHolders;
  client(id: string): PeerClient;
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
 */
export class OwnerRouter {
  readonly #context: RouterContext;
  readonly #flights = new SingleFlight<ReadResult | undefined>();

  constructor(context: RouterContext) {
    this.#context = context;
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
    if (primary === this.#context.selfId) return keyspace.get(key, signal);
    const replica = keyspace.config.replicaReads ? this.#replicaCopy(keyspace, key) : undefined;
    if (replica !== undefined) return keyspace.toResult(key, replica);
    const hot = keyspace.config.hotCache ? this.#context.hot.get(name, key) : undefined;
    if (hot !== undefined) return keyspace.toResult(key, hot);
    const loading = this.#flights.do(flightKey(name, key), (flight) => this.#fetch(keyspace, key, primary, flight));
    return waitFor(loading, signal).then((read) => keyspace.toResult(key, read));
  }

  /**
   * Writes a prepared entry to `replicaCount` nodes, trying further nodes when
   * one cannot be reached. With `ifAbsent`, the owner first decides, in one
   * step, whether the key is free; resolves false (writing nothing) when not.
   * With `replicaReads`, a replica holding a fresh copy refuses by itself, as
   * a read on it would find the key.
   */
  async put(keyspace: Keyspace, entry: PreparedPut, ifAbsent = false): Promise<boolean> {
    // A replica that reads its own copy refuses on that copy too: the key is taken for every read here.
    if (
      ifAbsent &&
      keyspace.config.replicaReads &&
      this.#ownsCopy(keyspace, entry.key) &&
      keyspace.holdsValue(entry.key)
    )
      return false;
    const name = keyspace.name;
    const request = (onlyIfAbsent: boolean): PeerRequest => ({
      type: MessageType.PUT,
      keyspace: name,
      key: entry.key,
      expiresAt: entry.expiry,
      ifAbsent: onlyIfAbsent,
      value: entry.bytes,
    });
    let wroteHere = false;
    const holdersTold: Promise<void>[] = [];
    const writeHere = (onlyIfAbsent: boolean) => (): boolean => {
      const stored = keyspace.commitPut(entry, onlyIfAbsent);
      wroteHere ||= stored;
      const told = this.invalidateHolders(keyspace, entry.key);
      if (told !== undefined) holdersTold.push(told);
      return stored;
    };
    const ranked = this.#context.placement.rank(name, entry.key);
    // The former owner drops its copies while the owners write: a needless invalidation (the
    // key was taken) only costs a hot copy.
    const invalidated = this.#invalidateFormerOwner(keyspace, entry.key, ranked);
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
    this.#invalidate(keyspace, entry.key, ranked, wroteHere);
    return true;
  }

  /** Deletes `key` on its owner nodes; resolves whether any of them held it. */
  async delete(keyspace: Keyspace, key: string): Promise<boolean> {
    validateKey(key);
    const name = keyspace.name;
    const ranked = this.#context.placement.rank(name, key);
    const holdersTold: Promise<void>[] = [];
    const deleteHere = (): boolean => {
      const deleted = keyspace.delete(key);
      const told = this.invalidateHolders(keyspace, key);
      if (told !== undefined) holdersTold.push(told);
      return deleted;
    };
    const [{ changed: deleted }] = await Promise.all([
      this.#toOwners(keyspace, key, ranked, deleteHere, { type: MessageType.DELETE, keyspace: name, key }),
      this.#invalidateFormerOwner(keyspace, key, ranked),
    ]);
    await Promise.all(holdersTold);
    this.#invalidate(keyspace, key, ranked, false);
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
    keyspace?.clear();
  }

  /** Applies an invalidation another node sent, and passes it on to the nodes this one answered reads of `key`. */
  onInvalidation(keyspace: Keyspace, key: string): Promise<void> | undefined {
    this.#invalidate(keyspace, key, this.#context.placement.rank(keyspace.name, key), false);
    return this.invalidateHolders(keyspace, key);
  }

  /**
   * Invalidates `key` on the nodes this node answered reads of it within the
   * hot-copy lifetime (every member when it could not keep track, once per
   * key until it hands out another copy it cannot record: see CopyHolders), once;
   * resolves when they answered, or is undefined when there is no one to
   * tell. Call it after writing the key here. A node that cannot be reached
   * is left to its hot copy's short lifetime.
   */
  invalidateHolders(keyspace: Keyspace, key: string): Promise<void> | undefined {
    const holders = this.#context.holders.take(keyspace.name, key, Date.now());
    const { selfId, placement } = this.#context;
    const targets = (holders === 'everyone' ? placement.members : holders).filter((id) => id !== selfId);
    return targets.length === 0 ? undefined : this.#sendInvalidations(keyspace, key, targets);
  }

  /** Remote reads in progress, for a graceful stop to wait on. */
  running(): Promise<unknown>[] {
    return this.#flights.running();
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
        const read: ReadResult = { value: reply.found ? reply.value : null, expiresAt: reply.expiresAt };
        if (!flight.superseded && keyspace.config.hotCache)
          this.#context.hot.set(name, keyspace.config.maxBytes, key, read.value, read.expiresAt, askedAt);
        return read;
      });
  }

  /** This node's own copy of `key` when it is one of its replicas (`replicaReads`), or undefined. */
  #replicaCopy(keyspace: Keyspace, key: string): ReadResult | undefined {
    return this.#ownsCopy(keyspace, key) ? keyspace.readCached(key) : undefined;
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
      if (candidate === this.#context.selfId) return keyspace.read(key, undefined);
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
   * owner that cannot be reached the next node in rendezvous order, so an
   * acknowledged write has that many copies whenever that many nodes answer.
   * Resolves whether any node reported a change (`delete`, a stored `ifAbsent`)
   * and which nodes acknowledged.
   */
  async #toOwners(
    keyspace: Keyspace,
    key: string,
    ranked: readonly string[],
    local: () => unknown,
    request: PeerRequest,
    copies = keyspace.config.replicaCount,
  ): Promise<{ changed: boolean; acknowledgedBy: string[] }> {
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
          const reply = await this.#context.client(id).request(request, timeout);
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
   * its main-store copy, left from a time it owned the key, unless this very
   * write just stored it there.
   */
  #invalidate(keyspace: Keyspace, key: string, ranked: readonly string[], wroteHere: boolean): void {
    const name = keyspace.name;
    this.#context.hot.delete(name, key);
    this.#flights.supersede(flightKey(name, key));
    const owners = ranked.slice(0, keyspace.config.replicaCount);
    if (!wroteHere && !owners.includes(this.#context.selfId)) keyspace.delete(key);
  }

  /** Invalidates `key` on the node ranked right after the owners (see the class comment), unless that is this one. */
  #invalidateFormerOwner(keyspace: Keyspace, key: string, ranked: readonly string[]): Promise<void> {
    const next = ranked[keyspace.config.replicaCount];
    return next === undefined || next === this.#context.selfId
      ? Promise.resolve()
      : this.#sendInvalidations(keyspace, key, [next]);
  }

  /** Sends an INVALIDATE of `key` to each of `targets`; resolves once each answered or failed. */
  async #sendInvalidations(keyspace: Keyspace, key: string, targets: readonly string[]): Promise<void> {
    const timeout = keyspace.config.writeTimeout + PEER_MARGIN_MS;
    const request = { type: MessageType.INVALIDATE, keyspace: keyspace.name, key } as const;
    await Promise.allSettled(targets.map((id) => this.#context.client(id).request(request, timeout)));
  }
}

function flightKey(name: string, key: string): string {
  return `${name}\u0000${key}`;
}

/** Swallows a failure to reach any further node: a write with fewer copies still stands, as with any write. */
function ignoreUnreachable(error: unknown): void {
  if (!isDistCacheError(error, ErrorCode.PEER_UNAVAILABLE)) throw error;
}

/** A failure to reach a node (down, timed out, stopping), as opposed to an answer from it. */
function isUnreachable(error: unknown): boolean {
  if (error instanceof PeerReplyError) return error.code === ErrorCode.ENGINE_NOT_STARTED;
  return (
    error instanceof DistCacheError && (error.code === ErrorCode.PEER_UNAVAILABLE || error.code === ErrorCode.TIMEOUT)
  );
}
