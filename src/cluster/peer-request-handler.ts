import { DistCacheError, ErrorCode } from '../errors.js';
import { validateKey } from '../keyspace/entry-input.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import type { ReadResult } from '../keyspace/types.js';
import type { CopyCoordinator } from './copy-coordinator.js';
import type { CopyHolders } from './copy-holders.js';
import type { HotCache } from './hot-cache.js';
import type { OwnerRouter } from './owner-router.js';
import type { PeerReadReply, PeerRequestHandler } from './peer-server.js';

/** What the handler needs from the cluster. */
export interface PeerRequestContext {
  /** This node's id, for error messages. */
  readonly selfId: string;
  /** This node's keyspace of that name, if defined. */
  keyspace(name: string): Keyspace | undefined;
  /** Drops a keyspace on this node only. */
  dropLocal(name: string): Promise<void>;
  readonly hot: HotCache;
  readonly router: OwnerRouter;
  readonly copies: CopyCoordinator;
  /** The nodes this node answers reads for, by key: a write here invalidates them. */
  readonly holders: CopyHolders;
  /** The members whose peer connections come from `host` (none: a reader this node cannot name). */
  membersAt(host: string): readonly string[];
}

/**
 * The server side of peer requests: answers them with this node's own
 * keyspaces, never routing them on (the asking node already chose this one).
 * A read's requester is remembered as a holder of a hot copy; a write here is
 * acknowledged once the holders of the key dropped theirs. A write for a key
 * this node does not own (the writer's view of the members is not this
 * node's, or this node is leaving) is forwarded to its owners before it is
 * acknowledged.
 */
export function createPeerRequestHandler(context: PeerRequestContext): PeerRequestHandler {
  const { copies } = context;
  /** After a write here: the holders of hot copies drop them, and a key this node does not own goes on to its owners. */
  const afterWrite = (
    keyspace: Keyspace,
    key: string,
    standIn: boolean,
    result: boolean,
  ): boolean | Promise<boolean> => {
    const told = context.router.invalidateHolders(keyspace, key, keyspace.copyOf(key)?.version ?? Infinity);
    const forwarded = copies.forward(keyspace, key, standIn);
    if (told === undefined && forwarded === undefined) return result;
    return Promise.all([told, forwarded]).then(() => result);
  };
  const keyspaceNamed = (name: string): Keyspace => {
    const found = context.keyspace(name);
    if (found === undefined)
      throw new DistCacheError(ErrorCode.KEYSPACE_NOT_FOUND, `keyspace "${name}" is not defined on ${context.selfId}`);
    return found;
  };
  return {
    get: (name, key, remoteHost) => {
      const keyspace = keyspaceNamed(name);
      // Before the read: a write that lands while it runs must find this reader.
      context.holders.record(name, key, context.membersAt(remoteHost), Date.now());
      const read = copies.resync.active ? copies.resync.read(keyspace, key, undefined) : keyspace.read(key, undefined);
      return read instanceof Promise ? read.then(toReadReply) : toReadReply(read);
    },
    put: ({ keyspace: name, key, expiresAt, value, ifAbsent, standIn, version }) => {
      validateKey(key);
      const keyspace = keyspaceNamed(name);
      const commit = (): boolean | Promise<boolean> => {
        if (!keyspace.commitPut({ key, bytes: value, expiry: expiresAt }, ifAbsent, version)) return false;
        return afterWrite(keyspace, key, standIn, true);
      };
      // A copy held from before a sync may be stale: check it before deciding whether the key is free.
      const checking = ifAbsent ? copies.resync.check(keyspace, key) : undefined;
      return checking === undefined ? commit() : checking.then(commit);
    },
    delete: ({ keyspace: name, key, standIn, version }) => {
      const keyspace = keyspaceNamed(name);
      return afterWrite(keyspace, key, standIn, keyspace.delete(key, version));
    },
    invalidate: (name, key, version) => {
      validateKey(key);
      return context.router.onInvalidation(keyspaceNamed(name), key, version);
    },
    deleteKeyspace: async (name) => {
      context.hot.dropKeyspace(name);
      context.holders.dropKeyspace(name);
      if (context.keyspace(name) !== undefined) await context.dropLocal(name);
    },
    peek: (name, key) => {
      validateKey(key);
      return keyspaceNamed(name).copyOf(key);
    },
    merge: (name, entries) => {
      const keyspace = keyspaceNamed(name);
      for (const { key } of entries) validateKey(key);
      // A newer copy replaced what readers may hold as hot copies: they drop them before the sender hears back.
      const told: Promise<void>[] = [];
      const ownsAll = copies.merge(keyspace, entries, (key, version) => {
        const telling = context.router.invalidateHolders(keyspace, key, version);
        if (telling !== undefined) told.push(telling);
      });
      return told.length === 0 ? ownsAll : Promise.all(told).then(() => ownsAll);
    },
    sync: async (requester) => {
      await copies.serveSync(requester);
    },
    clearKeyspace: (name) => context.router.clearLocal(name, context.keyspace(name)),
  };
}

/** A read as a GET reply. A miss without a data source is not cacheable anywhere: it expires now. */
function toReadReply(read: ReadResult | undefined): PeerReadReply {
  return read === undefined ? { bytes: null, expiresAt: Date.now() } : { bytes: read.value, expiresAt: read.expiresAt };
}
