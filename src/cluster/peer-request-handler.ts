import { DistCacheError, ErrorCode } from '../errors.js';
import { validateKey } from '../keyspace/entry-input.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import type { ReadResult } from '../keyspace/types.js';
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
}

/**
 * The server side of peer requests: answers them with this node's own
 * keyspaces, never routing them on (the asking node already chose this one).
 */
export function createPeerRequestHandler(context: PeerRequestContext): PeerRequestHandler {
  const keyspaceNamed = (name: string): Keyspace => {
    const found = context.keyspace(name);
    if (found === undefined)
      throw new DistCacheError(ErrorCode.KEYSPACE_NOT_FOUND, `keyspace "${name}" is not defined on ${context.selfId}`);
    return found;
  };
  return {
    get: (name, key) => {
      const read = keyspaceNamed(name).read(key, undefined);
      return read instanceof Promise ? read.then(toReadReply) : toReadReply(read);
    },
    put: (name, key, expiresAt, value, ifAbsent) => {
      validateKey(key);
      return keyspaceNamed(name).commitPut({ key, bytes: value, expiry: expiresAt }, ifAbsent);
    },
    delete: (name, key) => keyspaceNamed(name).delete(key),
    invalidate: (name, key) => {
      validateKey(key);
      context.router.onInvalidation(keyspaceNamed(name), key);
    },
    deleteKeyspace: async (name) => {
      context.hot.dropKeyspace(name);
      if (context.keyspace(name) !== undefined) await context.dropLocal(name);
    },
  };
}

/** A read as a GET reply. A miss without a data source is not cacheable anywhere: it expires now. */
function toReadReply(read: ReadResult | undefined): PeerReadReply {
  return read === undefined ? { bytes: null, expiresAt: Date.now() } : { bytes: read.value, expiresAt: read.expiresAt };
}
