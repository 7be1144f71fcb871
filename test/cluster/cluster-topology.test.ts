import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterNode, startCluster, stopCluster, waitForAdmitted } from '../helpers/cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('topology changes, real processes', () => {
  it('a node that joins warms the warmKeys it now owns, and every node sees peerJoined and peerLeft events', async () => {
    const warmKeys = Array.from({ length: 40 }, (_, i) => `warm-${i}`);
    const [a] = await startCluster('127.0.28', 1, { warmKeys });
    const b = new ClusterNode({ ip: '127.0.28.3', peers: ['127.0.28.2:3322', '127.0.28.3:3322'], warmKeys });
    try {
      await b.started;
      await waitForAdmitted([a!, b], 2);
      const owned = await b.send<string[]>({ cmd: 'owned', keys: warmKeys, by: b.id });
      assert.ok(owned.length > 0 && owned.length < warmKeys.length, `b owns ${owned.length} of the warm keys`);
      let calls = 0;
      for (let i = 0; i < 50 && calls < owned.length; i++) {
        await sleep(100);
        calls = await b.send<number>({ cmd: 'calls' });
      }
      assert.equal(calls, owned.length, 'b loaded exactly the warm keys it owns, before any get');
      assert.deepEqual(
        await b.send({ cmd: 'getMany', keys: owned }),
        owned.map((key) => `v:${key}`),
      );
      assert.equal(await b.send<number>({ cmd: 'calls' }), owned.length, 'the gets were hits');

      await b.send({ cmd: 'stop' });
      await b.exited();
      await sleep(300);
      const events = await a!.send<{ event: string; peer: string }[]>({ cmd: 'events' });
      assert.deepEqual(
        events.filter((event) => event.peer === b.id && event.event !== 'peerUpdated').map((event) => event.event),
        ['peerJoined', 'peerLeft'],
      );
    } finally {
      await stopCluster([a!, b]);
    }
  });
});
