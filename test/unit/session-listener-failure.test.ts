import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DistCacheError, ErrorCode } from '../../src/index.js';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { Operation, Status } from '../../src/protocol/codec.js';
import { SessionListener } from '../../src/protocol/listener.js';
import { SessionOperations } from '../../src/protocol/session-operations.js';
import { silentLogger } from '../helpers/engine.js';

it('a request the cache cannot serve is answered DISCONNECTED, and the connection keeps serving', async () => {
  let down = true;
  const unreachable = async (): Promise<never> => {
    throw new DistCacheError(ErrorCode.PEER_UNAVAILABLE, 'no node could serve the key');
  };
  // A store that fails like a cluster with no reachable owner, then recovers.
  const operations = new SessionOperations({
    get: async (key) => (down ? unreachable() : key === 'aa' ? Uint8Array.of(7) : undefined),
    put: async () => (down ? unreachable() : true),
    delete: async () => (down ? unreachable() : false),
  });
  const listener = new SessionListener(
    { listen: ['IP:127.0.67.2:4130'], tls: undefined, socket: undefined, idleTimeout: 60_000, maxConnections: 10 },
    operations,
    silentLogger,
  );
  await listener.start();
  const client = new DcClient(parseSessionAddress('IP:127.0.67.2:4130'));
  try {
    assert.deepEqual([...(await client.request(Operation.HAVE, Uint8Array.of(0xaa))).data], [Status.DISCONNECTED]);
    assert.deepEqual([...(await client.request(Operation.GET, Uint8Array.of(0xaa))).data], [Status.DISCONNECTED]);
    down = false;
    assert.deepEqual(
      [...(await client.request(Operation.HAVE, Uint8Array.of(0xaa))).data],
      [Status.OK],
      'the same connection serves again',
    );
  } finally {
    client.close();
    await listener.stop();
  }
});
