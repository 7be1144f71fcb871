/**
 * distcache on one node, backed by a real SQL table: a miss loads from the
 * database, a hit does not; a getMany loads its cold keys in one query
 * (fetchMany); entries expire after their TTL; when the table disappears the
 * circuit breaker opens and spares the database.
 *
 *   npm run example                                  # embedded PGlite
 *   DATABASE_URL=postgres://... npm run example      # a Postgres server
 */
import { Engine, isDistCacheError, jsonCodec } from 'distcache';
import { openDatabase, seedUsers, USERS_TABLE, usersDataSource, type User } from './users-database.js';

const TTL_MS = 1_000;
const RESET_MS = 500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const db = await openDatabase();
await seedUsers(db);
const users = usersDataSource(db);
console.log(`database: ${db.description}, table ${USERS_TABLE} seeded with 3 users`);

const engine = new Engine({
  logger: { debug() {}, info() {}, warn() {}, error: console.error },
  keyspaces: [
    {
      name: 'users',
      maxBytes: 16 * 1024 * 1024,
      codec: jsonCodec,
      dataSource: users,
      defaultTtl: TTL_MS,
      readTimeout: 2_000,
      circuitBreaker: { failureThreshold: 2, resetTimeout: RESET_MS },
    },
  ],
});
await engine.start();

async function show(step: string, key: string): Promise<void> {
  const before = users.queries;
  const started = performance.now();
  try {
    const result = await engine.get<User>('users', key);
    const ms = (performance.now() - started).toFixed(2);
    const source = users.queries > before ? 'loaded from the database' : 'served from the cache';
    console.log(
      `${step}: users/${key} -> ${result ? JSON.stringify(result.value) : 'not found'} (${source}, ${ms} ms)`,
    );
  } catch (error) {
    if (!isDistCacheError(error)) throw error;
    const touched = users.queries > before ? 'the database was queried' : 'the database was not queried';
    console.log(`${step}: users/${key} -> ${error.code} (${touched})`);
  }
}

await show('miss', '1');
await show('hit ', '1');
await show('missing row', '99');

/** Reads several users at once: the cold ones come from one query. */
async function showMany(step: string, keys: string[]): Promise<void> {
  const before = users.queries;
  const started = performance.now();
  const results = await engine.getMany<User>('users', keys);
  const ms = (performance.now() - started).toFixed(2);
  const names = results.map((result) => result?.value.name ?? 'not found').join(', ');
  console.log(`${step}: users/${keys.join(',')} -> ${names} (${users.queries - before} database query, ${ms} ms)`);
}

await showMany('getMany, users/1 cached', ['1', '2', '3']);

await db.query(`UPDATE ${USERS_TABLE} SET email = 'ada@lovelace.dev' WHERE id = 1`);
await show('after UPDATE, still cached', '1');
await sleep(TTL_MS + 100);
await show(`after the ${TTL_MS} ms TTL`, '1');

await db.query(`DROP TABLE ${USERS_TABLE}`);
console.log(`table ${USERS_TABLE} dropped`);
await show('table gone', '2');
await show('table gone', '3');
console.log(`breaker: ${engine.stats('users').breakerState}`);
await show('breaker open', '2');

await seedUsers(db);
await sleep(RESET_MS + 100);
console.log(`table restored; breaker after ${RESET_MS} ms: ${engine.stats('users').breakerState}`);
await show('probe', '2');
console.log(`breaker: ${engine.stats('users').breakerState}`);

const stats = engine.stats('users');
console.log(
  `stats: hits=${stats.hits} misses=${stats.misses} loads=${stats.loads} loadErrors=${stats.loadErrors} rejectedLoads=${stats.rejectedLoads} entries=${stats.entries} bytes=${stats.bytes}/${stats.maxBytes}`,
);

await engine.stop();
await db.query(`DROP TABLE IF EXISTS ${USERS_TABLE}`);
await db.close();
