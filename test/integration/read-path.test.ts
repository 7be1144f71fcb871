import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { type SqlDatabase, type User } from '../../example/users-database.js';
import { Engine, ErrorCode, jsonCodec, type KeyspaceOptions } from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { CountedUsers } from '../helpers/counted-users.js';
import { silentLogger, sleep } from '../helpers/engine.js';
import { postgresForThisFile } from '../helpers/postgres-databases.js';

const { databases } = postgresForThisFile();

const ids = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => String(from + i));

/**
 * Whether `read` settled before the event loop's next turn: a cached answer
 * does, a read that waits for the database (its socket, its timer) does not.
 */
async function answeredAtOnce(read: Promise<unknown>): Promise<boolean> {
  const turn = new Promise<false>((resolve) => setImmediate(() => resolve(false)));
  return Promise.race([read.then(() => true as const), turn]);
}

for (const [name, open] of databases) {
  describe(`database-backed keyspaces over ${name}, counting the queries the database ran`, () => {
    let db: SqlDatabase;
    let users: CountedUsers;
    let engine: Engine | undefined;
    const start = async (keyspace: Partial<KeyspaceOptions<User>>): Promise<Engine> => {
      engine = new Engine({
        logger: silentLogger,
        keyspaces: [{ name: 'users', maxBytes: 16 << 20, codec: jsonCodec, ...keyspace } as KeyspaceOptions<User>],
      });
      await engine.start();
      return engine;
    };

    before(async () => {
      db = await open();
    });
    after(async () => {
      await users?.drop();
      await db.close();
    });
    beforeEach(async () => {
      users = await CountedUsers.create(db);
    });
    afterEach(async () => {
      await engine?.stop();
      engine = undefined;
    });

    it('getMany of 100 cold ids is 1 query, and of 250 ids 3 queries with maxBatch 100', async () => {
      const engine = await start({ dataSource: users.dataSource({ batched: true }), maxBatch: 100 });
      const hundred = await engine.getMany<User>('users', ids(1, 100));
      assert.deepEqual(
        hundred.map((result) => result?.value.name),
        ids(1, 100).map((id) => `user ${id}`),
      );
      assert.equal(await users.queries(), 1);
      const more = await engine.getMany<User>('users', ids(101, 250));
      assert.equal(more.filter((result) => result !== undefined).length, 250);
      // The 250 ids' three queries run at once, on a pool's connections: the database may log them in any order.
      const [first, ...rest] = (await users.idsAsked()).map((asked) => asked.length);
      assert.equal(first, 100);
      assert.deepEqual(
        rest.sort((a, b) => b - a),
        [100, 100, 50],
      );
    });

    it('1,000 concurrent gets of 100 cold ids are at most 2 queries, each id asked once', async () => {
      const engine = await start({ dataSource: users.dataSource({ batched: true }) });
      const keys = Array.from({ length: 1_000 }, (_, i) => String((i % 100) + 1));
      const results = await Promise.all(keys.map((key) => engine.get<User>('users', key)));
      assert.ok(results.every((result, i) => result?.value.name === `user ${keys[i]}`));
      const asked = await users.idsAsked();
      assert.ok(asked.length <= 2, `${asked.length} queries`);
      assert.equal(asked.flat().length, 100);
    });

    it('a key already loading joins that load instead of a new batch (single-flight across batches)', async () => {
      const engine = await start({ dataSource: users.dataSource({ batched: true, delayMs: 50 }) });
      const first = engine.getMany('users', ids(1, 60));
      await sleep(10); // the first batch is at the database
      const second = engine.getMany('users', ids(31, 60));
      await Promise.all([first, second]);
      const asked = await users.idsAsked();
      assert.deepEqual(
        asked.map((query) => query.length),
        [60, 30],
      );
      assert.equal(new Set(asked.flat()).size, 90, 'no id was asked twice');
    });

    it('ids missing from the answer are "not found", and a failed batch fails each caller with ERR_DATASOURCE_FAILED and the cause', async () => {
      const engine = await start({ dataSource: users.dataSource({ batched: true }) });
      const results = await engine.getMany<User>('users', ['999', '1000', '1001', '5000']);
      assert.deepEqual(
        results.map((result) => result?.value.id),
        [999, 1000, undefined, undefined],
      );
      assert.equal(await users.queries(), 1);
      await db.query(`DROP FUNCTION ${users.table}_by_ids(integer[])`);
      const failed = await Promise.allSettled(ids(1, 5).map((id) => engine.get('users', id)));
      for (const outcome of failed) {
        assert.equal(outcome.status, 'rejected');
        const error = (outcome as PromiseRejectedResult).reason as { code: string; cause: Error };
        assert.equal(error.code, ErrorCode.DATASOURCE_FAILED);
        assert.match(error.cause.message, /_by_ids/, 'the cause is the database error');
      }
      await rejectsWithCode(engine.getMany('users', ids(6, 5)), ErrorCode.DATASOURCE_FAILED);
      assert.equal(engine.stats('users').loads, 3, 'one call per batch, the failed ones included');
    });

    it('with refreshAhead 0.8, 200 gets of a key across its expiry never wait on the database, and one refresh runs', async () => {
      const ttl = 600;
      const engine = await start({
        dataSource: users.dataSource({ batched: true, delayMs: 30 }),
        defaultTtl: ttl,
        refreshAhead: 0.8,
      });
      await engine.get('users', '7');
      const loaded = Date.now();
      await users.rename(7, 'renamed');
      let waited = 0;
      const names = new Set<string | undefined>();
      // 200 gets spread evenly over 1.3 TTLs: past the refresh point (0.8) and the first expiry (1.0),
      // and before the refreshed entry's own refresh point (about 0.8 + 0.05 + 0.8).
      for (let i = 0; i < 200; i++) {
        const due = loaded + (i * 1.3 * ttl) / 200;
        if (due > Date.now()) await sleep(due - Date.now());
        const read = engine.get<User>('users', '7');
        if (!(await answeredAtOnce(read))) waited++;
        names.add((await read)?.value.name);
      }
      assert.equal(waited, 0, 'gets that waited for the database');
      assert.ok(Date.now() - loaded > ttl, 'the gets went past the first expiry');
      assert.deepEqual([...names].sort(), ['renamed', 'user 7'], 'the refresh replaced the value');
      assert.equal(await users.queries(), 2, 'the first load and one refresh');
      const stats = engine.stats('users');
      assert.equal(stats.backgroundReloads, 1);
      assert.equal(stats.misses, 1, 'only the first get missed');
    });

    it('a refresh that fails keeps the old value, answered at once, until it expires', async () => {
      const ttl = 600;
      const engine = await start({
        dataSource: users.dataSource({ batched: true }),
        defaultTtl: ttl,
        refreshAhead: 0.5,
      });
      await engine.get('users', '8');
      const loaded = Date.now();
      await db.query(`DROP FUNCTION ${users.table}_by_ids(integer[])`);
      await sleep(loaded + 0.6 * ttl - Date.now());
      // Past the refresh point: the hit starts a refresh, which fails in the database.
      assert.equal((await engine.get<User>('users', '8'))?.value.name, 'user 8');
      for (let i = 0; i < 50 && engine.stats('users').loadErrors === 0; i++) await sleep(5);
      assert.ok(engine.stats('users').loadErrors >= 1, 'the refresh ran and failed');
      // Until the expiry, gets still answer the old value at once.
      let answered = 0;
      while (Date.now() < loaded + 0.9 * ttl) {
        const read = engine.get<User>('users', '8');
        assert.ok(await answeredAtOnce(read), 'a get waited for the database');
        assert.equal((await read)?.value.name, 'user 8');
        answered++;
        await sleep(20);
      }
      assert.ok(answered >= 5, `${answered} gets between the failed refresh and the expiry`);
      assert.equal(engine.stats('users').misses, 1, 'only the first get missed');
      await sleep(loaded + ttl + 20 - Date.now());
      await rejectsWithCode(engine.get('users', '8'), ErrorCode.DATASOURCE_FAILED);
    });

    it('staleWhileRevalidate answers an expired value at once marked stale: true, and one reload runs', async () => {
      const engine = await start({
        dataSource: users.dataSource({ batched: true, delayMs: 30 }),
        defaultTtl: 200,
        staleWhileRevalidate: 10_000,
      });
      await engine.get('users', '9');
      await users.rename(9, 'renamed');
      await sleep(250);
      const reads = Array.from({ length: 50 }, () => engine.get<User>('users', '9'));
      const atOnce = await Promise.all(reads.map(answeredAtOnce));
      assert.ok(atOnce.every(Boolean), 'every get answered without waiting');
      for (const result of await Promise.all(reads)) {
        assert.equal(result?.value.name, 'user 9');
        assert.equal(result?.stale, true);
      }
      await sleep(150); // the background reload lands
      const fresh = await engine.get<User>('users', '9');
      assert.equal(fresh?.value.name, 'renamed');
      assert.equal(fresh?.stale, undefined);
      assert.equal(await users.queries(), 2, 'the first load and one reload');
      assert.equal(engine.stats('users').backgroundReloads, 1);
    });

    it('ttlJitter 0.1 spreads the expiry of 1,000 keys loaded at once over at least 15% of the TTL', async () => {
      const ttl = 3_000;
      const engine = await start({ dataSource: users.dataSource({ batched: true }), defaultTtl: ttl, ttlJitter: 0.1 });
      const started = Date.now();
      await engine.getMany('users', ids(1, 1_000));
      assert.equal(await users.queries(), 10);
      // Half the keys are read at 0.92 TTL, the other half at 1.08 TTL: some already expired
      // (a miss) at the first time and some still fresh (a hit) at the second mean the expiries
      // spread over at least the time between the two reads.
      await sleep(started + 0.92 * ttl - Date.now());
      const early = Date.now();
      const missesBefore = engine.stats('users').misses;
      await engine.getMany('users', ids(1, 500));
      const expiredEarly = engine.stats('users').misses - missesBefore;
      await sleep(started + 1.08 * ttl - Date.now());
      const late = Date.now();
      const hitsBefore = engine.stats('users').hits;
      await engine.getMany('users', ids(501, 500));
      const freshLate = engine.stats('users').hits - hitsBefore;
      assert.ok(expiredEarly > 0, 'some keys expired before 0.92 of their TTL');
      assert.ok(freshLate > 0, 'some keys were still fresh after 1.08 of their TTL');
      assert.ok(late - early >= 0.15 * ttl, `the two reads ${late - early} ms apart`);
    });
  });
}
