import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { encodeAddRequest, Operation, Status } from '../../src/protocol/codec.js';
import { startCluster, stopCluster, waitForAdmitted, type ClusterNode } from '../helpers/cluster.js';

const listenOf = (ip: string) => `IP:${ip}:4200`;

/** Adds 30 ids on every node at once, each with its own data: exactly one add wins, every node then serves it and refuses the id. */
async function addContested(clients: DcClient[]): Promise<void> {
  for (let round = 0; round < 30; round++) {
    const id = randomBytes(24);
    const offers = clients.map(() => randomBytes(100));
    const answers = await Promise.all(
      clients.map((client, i) => client.request(Operation.ADD, encodeAddRequest(600_000, id, offers[i]!))),
    );
    const statuses = answers.map((answer) => answer.data[0]);
    assert.deepEqual(
      [...statuses].sort(),
      [Status.OK, ...clients.slice(1).map(() => Status.MATCHING_SESSION)],
      'the same id added on every node at once is stored once',
    );
    const winner = offers[statuses.indexOf(Status.OK)]!;
    for (const client of clients)
      assert.deepEqual(
        Buffer.from((await client.request(Operation.GET, id)).data),
        winner,
        'every node serves the session that was stored',
      );
    const again = await Promise.all(
      clients.map((client) => client.request(Operation.ADD, encodeAddRequest(600_000, id, randomBytes(100)))),
    );
    assert.deepEqual(
      again.map((answer) => answer.data[0]),
      clients.map(() => Status.MATCHING_SESSION),
      'a stored id is refused on every node',
    );
  }
}

/** Runs `body` against 3 nodes on `ipPrefix`.2-4, each with a session listener and a client connected to it; stops them all after. */
async function withSessionCluster(
  ipPrefix: string,
  replicaCount: number,
  body: (nodes: ClusterNode[], clients: DcClient[]) => Promise<void>,
): Promise<void> {
  let nodes: ClusterNode[] = [];
  const clients: DcClient[] = [];
  try {
    nodes = await startCluster(ipPrefix, 3, (ip) => ({ replicaCount, sessionListen: [listenOf(ip)] }));
    for (const node of nodes) clients.push(new DcClient(parseSessionAddress(listenOf(node.config.ip))));
    await body(nodes, clients);
  } finally {
    for (const client of clients) client.close();
    await stopCluster(nodes);
  }
}

describe('a 3-node cluster serving the distcache protocol on every node', () => {
  it('a session added on node 1 is served by nodes 2 and 3, and still after node 1 is killed (replicaCount 2)', async () => {
    await withSessionCluster('127.0.33', 2, async (nodes, clients) => {
      const sessions = Array.from({ length: 40 }, () => ({ id: randomBytes(32), data: randomBytes(700) }));
      for (const session of sessions) {
        assert.deepEqual(
          [...(await clients[0]!.request(Operation.ADD, encodeAddRequest(600_000, session.id, session.data))).data],
          [Status.OK],
        );
      }
      for (const client of clients.slice(1)) {
        for (const session of sessions) {
          assert.deepEqual(Buffer.from((await client.request(Operation.GET, session.id)).data), session.data);
          assert.deepEqual([...(await client.request(Operation.HAVE, session.id)).data], [Status.OK]);
        }
      }
      await addContested(clients);
      clients[0]!.close();
      nodes[0]!.signal('SIGKILL');
      await nodes[0]!.exited();
      await waitForAdmitted(nodes.slice(1), 2);
      for (const client of clients.slice(1)) {
        for (const session of sessions)
          assert.deepEqual(Buffer.from((await client.request(Operation.GET, session.id)).data), session.data);
      }
    });
  });

  it('with a copy on every node (replicaCount 3), each node answers from its own copy and contested adds still store one session', async () => {
    await withSessionCluster('127.0.31', 3, async (_nodes, clients) => {
      await addContested(clients);
      const id = randomBytes(32);
      assert.deepEqual(
        [...(await clients[1]!.request(Operation.ADD, encodeAddRequest(600_000, id, randomBytes(50)))).data],
        [Status.OK],
      );
      assert.deepEqual([...(await clients[2]!.request(Operation.REMOVE, id)).data], [Status.OK]);
      for (const client of clients)
        assert.deepEqual(
          [...(await client.request(Operation.HAVE, id)).data],
          [Status.NOTOK],
          'a removed session is gone from every copy',
        );
      assert.deepEqual(
        [...(await clients[0]!.request(Operation.ADD, encodeAddRequest(600_000, id, randomBytes(50)))).data],
        [Status.OK],
        'a removed id can be added again',
      );
    });
  });
});
