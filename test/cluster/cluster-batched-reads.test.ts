import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type PostgresServer } from '../../example/postgres-server.js';
import { openDatabase, type SqlDatabase } from '../../example/users-database.js';
import { SYNC_MINIMUM_MS } from '../../src/cluster/resync.js';
import { startCluster, stopCluster, type ClusterNode } from '../helpers/cluster.js';
import { CountedUsers } from '../helpers/counted-users.js';
import { sleep } from '../helpers/engine.js';
import { peerRequestsByType } from '../helpers/metrics.js';

const ids = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => String(from + i));

/** Reads (GET and GET_MANY, any outcome) a node has sent its peers, from the Prometheus metrics it exports. */
async function peerReadsSent(node: ClusterNode): Promise<number> {
  const counts = peerRequestsByType(await (await fetch(`http://${node.config.ip}:9464/metrics`)).text());
  return (counts.get('GET') ?? 0) + (counts.get('GET_MANY') ?? 0);
}

const peerReadsOf = async (nodes: ClusterNode[]): Promise<number> =>
  (await Promise.all(nodes.map(peerReadsSent))).reduce((a, b) => a + b, 0);

describe('getMany on a 3-node cluster over a shared Postgres, counting queries in the database', () => {
  let server: PostgresServer;
  let db: SqlDatabase;
  let users: CountedUsers;
  let nodes: ClusterNode[] = [];

  before(async () => {
    server = await startPostgres();
    db = await openDatabase(server.url);
    users = await CountedUsers.create(db, 1_000);
    nodes = await startCluster('127.0.111', 3, { admin: true, database: { url: server.url, table: users.table } });
    // A node syncs for at least SYNC_MINIMUM_MS after it starts: meanwhile each read of a key it owns is
    // first checked against the other members, so cold loads do not batch. These tests measure steady state.
    await sleep(SYNC_MINIMUM_MS + 500);
  });
  after(async () => {
    await stopCluster(nodes);
    await users?.drop();
    await db?.close();
    await server?.stop();
  });

  it('100 cold ids asked of one node cost at most 3 queries and 3 peer requests, each id loaded once', async () => {
    const queriesBefore = await users.queries();
    const requestsBefore = await peerReadsOf(nodes);
    const names = await nodes[0]!.send<(string | null)[]>({ cmd: 'getManyUsers', keys: ids(1, 100) });
    assert.deepEqual(
      names,
      ids(1, 100).map((id) => `user ${id}`),
    );
    const asked = (await users.idsAsked()).slice(queriesBefore);
    assert.ok(asked.length <= 3, `${asked.length} queries`);
    assert.equal(asked.flat().length, 100, 'each id asked once');
    const requests = (await peerReadsOf(nodes)) - requestsBefore;
    assert.ok(requests <= 3, `${requests} peer requests`);
  });

  it('all three nodes asking the same 100 cold ids at once still load each id once, in at most 3 queries', async () => {
    const queriesBefore = await users.queries();
    const requestsBefore = await peerReadsOf(nodes);
    const answers = await Promise.all(
      nodes.map((node) => node.send<(string | null)[]>({ cmd: 'getManyUsers', keys: ids(401, 100) })),
    );
    for (const names of answers)
      assert.deepEqual(
        names,
        ids(401, 100).map((id) => `user ${id}`),
      );
    const asked = (await users.idsAsked()).slice(queriesBefore);
    assert.ok(asked.length <= 3, `${asked.length} queries`);
    assert.equal(asked.flat().length, 100, 'each id asked once, across nodes and batches');
    const requests = (await peerReadsOf(nodes)) - requestsBefore;
    assert.ok(requests <= 3 * 3, `${requests} peer requests for 3 getMany calls`);
  });
});
