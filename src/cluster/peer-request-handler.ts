import { DistCacheError, ErrorCode } from '../errors.js';
import { validateKey } from '../keyspace/entry-input.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import type { ReadResult } from '../keyspace/types.js';
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
  /** The nodes this node answers reads for, by key: a write here invalidates them. */
  readonly holders: CopyHolders;
  /** The members whose peer connections come from `host` (none: a reader this node cannot name). */
  membersAt(host: string): readonly string[];
}

/**
 * The server side of peer requests: answers them with this node's own
 * keyspaces, never routing them on (the asking node already chose this one).
 * A read's requester is remembered as a holder of a hot copy; a write here is
 * acknowledged once the holders of the key dropped theirs.
 */
export function createPeerRequestHandler(context: PeerRequestContext): PeerRequestHandler {
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
      const read = keyspace.read(key, undefined);
      return read instanceof Promise ? read.then(toReadReply) : toReadReply(read);
    },
    put: (name, key, expiresAt, value, ifAbsent) => {
      validateKey(key);
      const keyspace = keyspaceNamed(name);
      const stored = keyspace.commitPut({ key, bytes: value, expiry: expiresAt }, ifAbsent);
      return context.router.invalidateHolders(keyspace, key)?.then(() => stored) ?? stored;
    },
    delete: (name, key) => {
      const keyspace = keyspaceNamed(name);
      const deleted = keyspace.delete(key);
      return context.router.invalidateHolders(keyspace, key)?.then(() => deleted) ?? deleted;
    },
    invalidate: (name, key) => {
      validateKey(key);
      return context.router.onInvalidation(keyspaceNamed(name), key);
    },
    deleteKeyspace: async (name) => {
      context.hot.dropKeyspace(name);
      context.holders.dropKeyspace(name);
      if (context.keyspace(name) !== undefined) await context.dropLocal(name);
    },
    clearKeyspace: (name) => context.router.clearLocal(name, context.keyspace(name)),
  };
}

/** A read as a GET reply. A miss without a data source is not cacheable anywhere: it expires now. */
function toReadReply(read: ReadResult | undefined): PeerReadReply {
  return read === undefined ? { bytes: null, expiresAt: Date.now() } : { bytes: read.value, expiresAt: read.expiresAt };
}
