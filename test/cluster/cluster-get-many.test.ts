/**
 * getMany on a 3-node cluster in one process, over the examples' embedded
 * Postgres (PGlite) shared by the three nodes: the queries are counted in the
 * database itself (CountedUsers), the peer requests through each node's
 * Prometheus metrics. (test/cluster/cluster-batched-reads.test.ts runs the
 * same reads in three processes over a Postgres server.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StaticDiscovery } from '../../discovery/static.js';
import { openDatabase, type SqlDatabase, type User } from '../../example/users-database.js';
import { createXxhash64 } from '../../src/cluster/hasher.js';
import { Placement } from '../../src/cluster/placement.js';
import { SYNC_MINIMUM_MS } from '../../src/cluster/resync.js';
import {
  Engine,
  ErrorCode,
  jsonCodec,
  type DataSource,
  type GetResult,
  type KeyspaceOptions,
} from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { CountedUsers } from '../helpers/counted-users.js';
import { bytes, silentLogger, sleep, text } from '../helpers/engine.js';
import { peerRequestsDuring as peerRequestsSentDuring } from '../helpers/metrics.js';

const IPS = ['127.0.111.12', '127.0.111.13', '127.0.111.14'];
const PEERS = IPS.map((ip) => `${ip}:3322`);
const BIG = 6 * 1024 * 1024;

const ids = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => String(from + i));

/** A data source with fetchMany, answering `answer(key)` for each key. */
function source(answer: (key: string) => unknown): DataSource {
  return {
    fetch: (key) => answer(key) as Uint8Array,
    fetchMany: (keys) => new Map(keys.map((key) => [key, answer(key) as Uint8Array])),
  };
}

/** GET and GET_MANY requests (any outcome) the nodes send while `run` runs. */
async function peerRequestsDuring(nodes: readonly Engine[], run: () => Promise<unknown>) {
  const sent = await peerRequestsSentDuring(IPS.slice(0, nodes.length), run);
  return { GET: sent.GET ?? 0, GET_MANY: sent.GET_MANY ?? 0 };
}

describe('getMany on a 3-node cluster over PGlite, counting queries in the database and peer requests in the metrics', () => {
  let db: SqlDatabase;
  let users: CountedUsers;
  let nodes: Engine[] = [];
  let version = 1;

  before(async () => {
    db = await openDatabase('');
    users = await CountedUsers.create(db, 1_000);
    const keyspaces: KeyspaceOptions<unknown>[] = [
      { name: 'users', maxBytes: 16 << 20, codec: jsonCodec, dataSource: users.dataSource({ batched: true }) },
      {
        name: 'edge',
        maxBytes: 1 << 20,
        dataSource: source((key) =>
          key.startsWith('bad') ? 'not bytes' : key.startsWith('gone') ? undefined : bytes(`v:${key}`),
        ),
      },
      { name: 'copies', maxBytes: 1 << 20, dataSource: source((key) => bytes(`loaded:${key}`)) },
      {
        name: 'big',
        maxBytes: 64 << 20,
        hotCache: false,
        dataSource: source((key) => new Uint8Array(BIG).fill(key.charCodeAt(key.length - 1))),
      },
      {
        name: 'stale',
        maxBytes: 1 << 20,
        defaultTtl: 100,
        staleWhileRevalidate: 10_000,
        dataSource: source((key) => bytes(`${key}@${version}`)),
      },
    ];
    nodes = IPS.map(
      (ip) =>
        new Engine({
          logger: silentLogger,
          bindAddr: ip,
          discovery: new StaticDiscovery({ peers: PEERS }),
          admin: { listen: `${ip}:9464` },
          keyspaces,
        }),
    );
    await Promise.all(nodes.map((node) => node.start()));
    for (let i = 0; ; i++) {
      const admitted = nodes.map((node) => node.peers().filter((peer) => peer.admitted && peer.state === 'alive'));
      if (admitted.every((peers) => peers.length === 3)) break;
      if (i === 300) throw new Error('the three nodes did not converge');
      await sleep(50);
    }
    // A node syncs for at least SYNC_MINIMUM_MS after it starts: meanwhile each read of a key it owns is
    // first checked against the other members, so cold loads do not batch. These tests measure steady state.
    await sleep(SYNC_MINIMUM_MS + 500);
  });
  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await users?.drop();
    await db?.close();
  });

  /** `count` keys of `keyspace` starting with `prefix` whose owner is node `owner` (an index in `nodes`). */
  const ownedBy = (owner: number, keyspace: string, prefix: string, count: number): string[] => {
    const keys: string[] = [];
    for (let i = 0; keys.length < count; i++)
      if (nodes[0]!.owners(keyspace, `${prefix}${i}`)[0] === `${IPS[owner]}:3320`) keys.push(`${prefix}${i}`);
    return keys;
  };

  it('getMany of 100 cold ids: at most 3 queries and 3 peer requests (one GET_MANY per other owner), each id asked once', async () => {
    const keys = ids(1, 100);
    const owners = new Set(keys.map((key) => nodes[0]!.owners('users', key)[0]));
    assert.equal(owners.size, 3, 'the ids spread over the three nodes');
    const queriesBefore = await users.queries();
    let results: unknown[] = [];
    const requests = await peerRequestsDuring(nodes, async () => {
      results = await nodes[0]!.getMany<User>('users', keys);
    });
    assert.deepEqual(
      results.map((result) => (result as { value: User } | undefined)?.value.name),
      keys.map((id) => `user ${id}`),
    );
    const asked = (await users.idsAsked()).slice(queriesBefore);
    assert.ok(asked.length <= 3, `${asked.length} queries`);
    assert.deepEqual(
      asked.flat().sort((a, b) => a - b),
      keys.map(Number),
      'each id asked once',
    );
    assert.ok(requests.GET + requests.GET_MANY <= 3, `${JSON.stringify(requests)} peer requests`);
    assert.deepEqual(requests, { GET: 0, GET_MANY: 2 }, 'one GET_MANY to each of the two other owners');
  });

  it('the three nodes asking the same 100 cold ids at once: each id loaded once, at most 3 queries, 3 peer requests per getMany', async () => {
    const keys = ids(401, 100);
    const queriesBefore = await users.queries();
    let answers: unknown[][] = [];
    const requests = await peerRequestsDuring(nodes, async () => {
      answers = await Promise.all(nodes.map((node) => node.getMany<User>('users', keys)));
    });
    for (const results of answers)
      assert.deepEqual(
        results.map((result) => (result as { value: User } | undefined)?.value.name),
        keys.map((id) => `user ${id}`),
      );
    const asked = (await users.idsAsked()).slice(queriesBefore);
    assert.ok(asked.length <= 3, `${asked.length} queries`);
    assert.equal(asked.flat().length, 100, 'each id asked once, across nodes and batches');
    assert.ok(requests.GET + requests.GET_MANY <= 3 * 3, `${JSON.stringify(requests)} peer requests`);
    assert.equal(requests.GET, 0);
  });

  it('the owner\'s per-key answers arrive as values, "not found" and the key\'s own error', async () => {
    const good = ownedBy(1, 'edge', 'good', 3);
    const [gone] = ownedBy(1, 'edge', 'gone', 1);
    const [bad] = ownedBy(1, 'edge', 'bad', 1);
    const requests = await peerRequestsDuring(nodes, async () => {
      const results = await nodes[0]!.getMany('edge', [...good, gone!]);
      assert.deepEqual(
        results.map((result) => text(result?.value)),
        [...good.map((key) => `v:${key}`), undefined],
      );
      const error = await rejectsWithCode(
        nodes[0]!.getMany('edge', [bad!, ...ownedBy(1, 'edge', 'more', 2)]),
        ErrorCode.DATASOURCE_FAILED,
      );
      assert.match(error.message, /unusable value/);
    });
    assert.deepEqual(requests, { GET: 0, GET_MANY: 2 });
  });

  it('a write at the owner reaches the hot copies a GET_MANY left on the node that asked', async () => {
    // Keys whose owner is node 1 and whose next-ranked node (the one every write also
    // invalidates) is node 2: node 0 hears of a write only as a reader the owner remembers.
    const placement = new Placement(await createXxhash64());
    placement.setMembers(IPS.map((ip) => `${ip}:3320`));
    const keys: string[] = [];
    for (let i = 0; keys.length < 4; i++) {
      const [owner, next] = placement.rank('copies', `c${i}`);
      if (owner === `${IPS[1]}:3320` && next === `${IPS[2]}:3320`) keys.push(`c${i}`);
    }
    const first = await nodes[0]!.getMany('copies', keys);
    assert.deepEqual(
      first.map((result) => text(result?.value)),
      keys.map((key) => `loaded:${key}`),
    );
    const again = await peerRequestsDuring(nodes, () => nodes[0]!.getMany('copies', keys));
    assert.deepEqual(again, { GET: 0, GET_MANY: 0 }, 'node 0 answers from its hot copies');
    for (const key of keys) await nodes[1]!.put('copies', { key, value: bytes(`written:${key}`) });
    const after = await nodes[0]!.getMany('copies', keys);
    assert.deepEqual(
      after.map((result) => text(result?.value)),
      keys.map((key) => `written:${key}`),
    );
  });

  it('values too large for one reply together come back one by one; each caller still gets its value', async () => {
    const keys = ownedBy(1, 'big', 'big', 3);
    let results: (GetResult | undefined)[] = [];
    const requests = await peerRequestsDuring(nodes, async () => {
      results = await nodes[0]!.getMany('big', keys);
    });
    for (const [i, result] of results.entries()) {
      assert.equal(result?.value.byteLength, BIG);
      assert.equal(result?.value[BIG - 1], keys[i]!.charCodeAt(keys[i]!.length - 1));
    }
    assert.deepEqual(requests, { GET: 1, GET_MANY: 1 }, 'the third value did not fit the reply: asked alone');
  });

  it('a value the owner serves stale (staleWhileRevalidate) is marked stale on the node that asked', async () => {
    const keys = ownedBy(1, 'stale', 'k', 2);
    await nodes[1]!.getMany('stale', keys);
    version = 2;
    await sleep(150);
    const stale = await nodes[0]!.getMany('stale', keys);
    assert.deepEqual(
      stale.map((result) => [text(result?.value), result?.stale]),
      keys.map((key) => [`${key}@1`, true]),
    );
    await sleep(50);
    const fresh = await nodes[0]!.getMany('stale', keys);
    assert.deepEqual(
      fresh.map((result) => [text(result?.value), result?.stale]),
      keys.map((key) => [`${key}@2`, undefined]),
    );
  });
});
