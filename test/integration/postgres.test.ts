import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { seedUsers, USERS_TABLE, usersDataSource, type User } from '../../example/users-database.js';
import { Engine, ErrorCode, jsonCodec } from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { silentLogger } from '../helpers/engine.js';
import { postgresForThisFile } from '../helpers/postgres-databases.js';

const run = promisify(execFile);

const { databases, url } = postgresForThisFile();

for (const [name, open] of databases) {
  describe(`read-through over ${name}`, () => {
    it('loads a row once for 1,000 concurrent gets, serves hits from memory, and reports missing rows as undefined', async () => {
      const db = await open();
      await seedUsers(db);
      const source = usersDataSource(db);
      const engine = new Engine({
        logger: silentLogger,
        keyspaces: [{ name: 'users', maxBytes: 1 << 20, codec: jsonCodec, dataSource: source }],
      });
      await engine.start();
      const results = await Promise.all(Array.from({ length: 1_000 }, () => engine.get<User>('users', '3')));
      assert.ok(results.every((result) => result?.value.name === 'Grace Hopper'));
      assert.equal(await engine.get('users', '404'), undefined);
      assert.equal(source.queries, 2);
      await engine.stop();
      await db.query(`DROP TABLE ${USERS_TABLE}`);
      await db.close();
    });

    it('a dropped table opens the breaker after failureThreshold errors; the database is then spared', async () => {
      const db = await open();
      await seedUsers(db);
      const source = usersDataSource(db);
      const engine = new Engine({
        logger: silentLogger,
        keyspaces: [
          {
            name: 'users',
            maxBytes: 1 << 20,
            codec: jsonCodec,
            dataSource: source,
            circuitBreaker: { failureThreshold: 2, resetTimeout: 60_000 },
          },
        ],
      });
      await engine.start();
      await db.query(`DROP TABLE ${USERS_TABLE}`);
      const failure = await rejectsWithCode(engine.get('users', '1'), ErrorCode.DATASOURCE_FAILED);
      assert.match(String((failure.cause as Error).message), /distcache_example_users/);
      await rejectsWithCode(engine.get('users', '2'), ErrorCode.DATASOURCE_FAILED);
      await rejectsWithCode(engine.get('users', '3'), ErrorCode.DATASOURCE_CIRCUIT_OPEN);
      assert.equal(source.queries, 2);
      await engine.stop();
      await db.close();
    });
  });
}

describe('example/standalone.ts', () => {
  const expectations = [
    /miss: users\/1 -> .*Ada Lovelace.*loaded from the database/,
    /hit : users\/1 -> .*served from the cache/,
    /missing row: users\/99 -> not found/,
    /getMany, users\/1 cached: users\/1,2,3 -> Ada Lovelace, Alan Turing, Grace Hopper \(1 database query/,
    /after UPDATE, still cached: .*ada@example\.com.*served from the cache/,
    /TTL: users\/1 -> .*ada@lovelace\.dev.*loaded from the database/,
    /table gone: users\/3 -> ERR_DATASOURCE_FAILED/,
    /breaker: open/,
    /breaker open: users\/2 -> ERR_DATASOURCE_CIRCUIT_OPEN \(the database was not queried\)/,
    /probe: users\/2 -> .*Alan Turing/,
    /breaker: closed/,
  ];
  for (const [mode, env] of [
    ['on embedded PGlite', () => ({ DATABASE_URL: '' })],
    ['on a Postgres server (DATABASE_URL)', () => ({ DATABASE_URL: url() })],
  ] as const) {
    it(`runs ${mode}: miss, hit, TTL expiry, breaker open and close`, async () => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'example/standalone.ts'], {
        env: { ...process.env, ...env() },
        timeout: 60_000,
      });
      for (const expected of expectations) assert.match(stdout, expected);
      assert.match(stdout, mode.includes('PGlite') ? /database: PGlite/ : /database: Postgres at 127\.0\.0\.1/);
    });
  }
});

describe('example/dns-cluster.ts', () => {
  it('forms a 3-node cluster through DNS, agrees on owners, and loads a cold key once cluster-wide', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'example/dns-cluster.ts'], {
      env: { ...process.env, DATABASE_URL: '' },
      timeout: 90_000,
    });
    assert.match(
      stdout,
      /cluster formed: 127\.0\.0\.2:3320 \(alive\), 127\.0\.0\.3:3320 \(alive\), 127\.0\.0\.4:3320 \(alive\)/,
    );
    assert.equal(stdout.match(/every node agrees: true/g)?.length, 3);
    assert.match(stdout, /300 concurrent cold gets of users\/2 from all 3 nodes -> .*Alan Turing/);
    assert.match(stdout, /database queries for them, cluster-wide: 1 /);
  });
});
