import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { encodeAddRequest, Operation, Status } from '../../src/protocol/codec.js';
import { ClusterNode, stopCluster, waitForAdmitted } from '../helpers/cluster.js';

const listenOf = (ip: string) => `IP:${ip}:4200`;

describe('a 3-node cluster serving the distcache protocol on every node', () => {
  it('a session added on node 1 is served by nodes 2 and 3, and still after node 1 is killed (replicaCount 2)', async () => {
    const ips = ['127.0.33.2', '127.0.33.3', '127.0.33.4'];
    const peers = ips.map((ip) => `${ip}:3322`);
    const nodes = ips.map((ip) => new ClusterNode({ ip, peers, replicaCount: 2, sessionListen: [listenOf(ip)] }));
    try {
      await Promise.all(nodes.map((node) => node.started));
      await waitForAdmitted(nodes, 3);
      const clients = ips.map((ip) => new DcClient(parseSessionAddress(listenOf(ip))));
      const sessions = Array.from({ length: 40 }, () => ({ id: randomBytes(32), data: randomBytes(700) }));
      for (const session of sessions) {
        assert.deepEqual([...(await clients[0]!.request(Operation.ADD, encodeAddRequest(600_000, session.id, session.data))).data], [Status.OK]);
      }
      for (const client of clients.slice(1)) {
        for (const session of sessions) {
          assert.deepEqual(Buffer.from((await client.request(Operation.GET, session.id)).data), session.data);
          assert.deepEqual([...(await client.request(Operation.HAVE, session.id)).data], [Status.OK]);
        }
      }
      const contested = Array.from({ length: 30 }, () => randomBytes(24));
      for (const id of contested) {
        const answers = await Promise.all(clients.slice(1).map((client) => client.request(Operation.ADD, encodeAddRequest(600_000, id, randomBytes(100)))));
        assert.deepEqual(answers.map((answer) => answer.data[0]).sort(), [Status.OK, Status.MATCHING_SESSION], 'the same id added on two nodes at once is stored once');
      }
      clients[0]!.close();
      nodes[0]!.signal('SIGKILL');
      await nodes[0]!.exited();
      await waitForAdmitted(nodes.slice(1), 2);
      for (const client of clients.slice(1)) {
        for (const session of sessions) assert.deepEqual(Buffer.from((await client.request(Operation.GET, session.id)).data), session.data);
      }
      for (const client of clients.slice(1)) client.close();
    } finally {
      await stopCluster(nodes);
    }
  });
});
