import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Engine } from '../../src/index.js';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { MAX_MESSAGE_BYTES, Operation, Status } from '../../src/protocol/codec.js';
import { silentLogger } from '../helpers/engine.js';

it('answers NOTOK to a GET of a session put through the engine that is larger than a message carries, and keeps serving', async () => {
  const engine = new Engine({ logger: silentLogger, keyspaces: [], sessionCache: { listen: ['IP:127.0.163.2:4631'] } });
  await engine.start();
  const client = new DcClient(parseSessionAddress(engine.sessionAddresses()[0]!));
  try {
    const id = Buffer.from('large');
    await engine.put('ssl-sessions', { key: id.toString('hex'), value: new Uint8Array(MAX_MESSAGE_BYTES + 1) });
    assert.deepEqual([...(await client.request(Operation.GET, id)).data], [Status.NOTOK]);
    assert.deepEqual(
      [...(await client.request(Operation.HAVE, id)).data],
      [Status.OK],
      'the same connection serves on',
    );
  } finally {
    client.close();
    await engine.stop();
  }
});
