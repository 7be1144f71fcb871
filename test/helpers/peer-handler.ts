import type { PeerReadReply, PeerRequestHandler } from '../../src/cluster/peer-server.js';

/** A peer request handler that answers GETs with `get` and does nothing else: for tests of the transport itself. */
export function answeringGets(get: () => PeerReadReply | Promise<PeerReadReply>): PeerRequestHandler {
  return {
    get,
    getMany: async () => [],
    put: () => true,
    delete: () => false,
    deleteKeyspace: async () => undefined,
    clearKeyspace: () => undefined,
    invalidate: () => undefined,
    peek: () => undefined,
    merge: () => true,
    sync: async () => undefined,
  };
}
