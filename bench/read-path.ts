/**
 * The database-backed read path (issue: batched loads, refresh ahead), side
 * by side in one run:
 * - `getMany` of 100 cold keys on PGlite with the example's `fetchMany`
 *   (one `WHERE id = ANY($1)` query) against the same data source without it
 *   (one query a key);
 * - p99 latency of a steady stream of gets of a key with a 1 s TTL whose data
 *   source takes 20 ms, with `refreshAhead` 0.8 against without, and against
 *   the p99 of hits on a key that never expires, all three streams at once.
 *
 *   npm run bench:read-path      (writes bench/results/read-path.json)
 */
import { openDatabase, seedUsers, USERS_TABLE, usersDataSource } from '../example/users-database.js';
import { Engine, jsonCodec, type Logger } from '../src/index.js';
import { format, interleavedMedians, report, row } from './harness.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const BATCH_KEYS = 100;
const ROUNDS = 15;
const STREAM_TTL_MS = 1_000;
const LOAD_MS = 20;
const STREAM_MS = 8_000;
/** Time between two gets of a stream. */
const STREAM_INTERVAL_MS = 1;

/** Wall time of getMany of 100 cold users, each trial on ids no trial read before. */
async function coldGetMany() {
  const db = await openDatabase('');
  await seedUsers(db);
  const users = 2 * (ROUNDS + 1) * BATCH_KEYS; // every trial and the warm-up read ids of their own
  await db.query(
    `INSERT INTO ${USERS_TABLE} (id, name, email) SELECT n, 'user ' || n, 'user' || n || '@example.com' FROM generate_series(4, $1::int) AS n`,
    [users + 3],
  );
  const batched = usersDataSource(db);
  const single = usersDataSource(db);
  const engine = new Engine({
    logger: silent,
    keyspaces: [
      { name: 'batched', maxBytes: 64 << 20, codec: jsonCodec, dataSource: batched },
      {
        name: 'single',
        maxBytes: 64 << 20,
        codec: jsonCodec,
        dataSource: { fetch: (key, context) => single.fetch(key, context) },
      },
    ],
  });
  await engine.start();
  let next = 4;
  const timed = (keyspace: string) => async (): Promise<number> => {
    const keys = Array.from({ length: BATCH_KEYS }, () => String(next++));
    const started = performance.now();
    const results = await engine.getMany(keyspace, keys);
    const elapsed = performance.now() - started;
    if (results.some((result) => result === undefined)) throw new Error(`${keyspace}: a user was not found`);
    return elapsed;
  };
  // One warm-up round each, so neither side pays for first-call compilation in a measured trial.
  await timed('batched')();
  await timed('single')();
  const queriesBefore = { batched: batched.queries, single: single.queries };
  const medians = await interleavedMedians({ batched: timed('batched'), single: timed('single') }, ROUNDS);
  const queries = {
    batched: (batched.queries - queriesBefore.batched) / ROUNDS,
    single: (single.queries - queriesBefore.single) / ROUNDS,
  };
  await engine.stop();
  await db.close();
  return { medians, queries };
}

/** Latencies in ms of one stream of gets, and how many of them waited for a load. */
interface Stream {
  readonly latencies: number[];
  waited: number;
}

/**
 * Three streams at once, one get each every STREAM_INTERVAL_MS for
 * STREAM_MS: `refresh` and `plain` read a key with a 1 s TTL from a 20 ms
 * data source (with and without refreshAhead), `hit` a key that never
 * expires. Running them together gives the three the same machine.
 */
async function steadyStreams() {
  let loads = 0;
  const slowSource = {
    fetch: async (key: string): Promise<Uint8Array> => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
      return new TextEncoder().encode(`value of ${key}`);
    },
  };
  const engine = new Engine({
    logger: silent,
    keyspaces: [
      { name: 'refresh', maxBytes: 1 << 20, dataSource: slowSource, defaultTtl: STREAM_TTL_MS, refreshAhead: 0.8 },
      { name: 'plain', maxBytes: 1 << 20, dataSource: slowSource, defaultTtl: STREAM_TTL_MS },
      { name: 'hit', maxBytes: 1 << 20, dataSource: slowSource },
    ],
  });
  await engine.start();
  const names = ['refresh', 'plain', 'hit'] as const;
  for (const name of names) await engine.get(name, 'key');
  const stream = (): Stream => ({ latencies: [], waited: 0 });
  const streams: Record<(typeof names)[number], Stream> = { refresh: stream(), plain: stream(), hit: stream() };
  const started = performance.now();
  let tick = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() - started >= STREAM_MS) {
        clearInterval(timer);
        setTimeout(resolve, LOAD_MS * 2); // the last gets settle
        return;
      }
      // The order rotates: no stream is always the first (or last) to be answered.
      tick++;
      for (let i = 0; i < names.length; i++) {
        const name = names[(tick + i) % names.length]!;
        const sent = performance.now();
        void engine.get(name, 'key').then(() => {
          const latency = performance.now() - sent;
          streams[name].latencies.push(latency);
          if (latency >= LOAD_MS / 2) streams[name].waited++;
        });
      }
    }, STREAM_INTERVAL_MS);
  });
  const stats = { refresh: engine.stats('refresh'), plain: engine.stats('plain') };
  await engine.stop();
  const p = (name: (typeof names)[number], q: number): number => {
    const sorted = [...streams[name].latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  };
  return { streams, p, stats, loads };
}

const cold = await coldGetMany();
const steady = await steadyStreams();
const gets = steady.streams.hit.latencies.length;

report(
  'read-path',
  [
    row(
      'getMany of 100 cold keys on PGlite, with fetchMany',
      cold.medians.batched,
      'without fetchMany',
      cold.medians.single,
      'ms',
      { atMost: 0.1 },
    ),
    row(
      'get p99, 1 s TTL key, 20 ms data source, refreshAhead 0.8',
      steady.p('refresh', 0.99),
      'hit p99 (a key that never expires), same run',
      steady.p('hit', 0.99),
      'ms',
      { atMost: 2 },
    ),
    row(
      'get p99, the same key without refreshAhead',
      steady.p('plain', 0.99),
      'hit p99 (a key that never expires), same run',
      steady.p('hit', 0.99),
      'ms',
    ),
  ],
  [
    `getMany: the example's users table in PGlite (in-process), ${BATCH_KEYS} ids no trial read before; median of ${ROUNDS} interleaved trials; ` +
      `${format(cold.queries.batched)} query a getMany with fetchMany, ${format(cold.queries.single)} without`,
    `streams: one get every ${STREAM_INTERVAL_MS} ms of each of 3 keys for ${STREAM_MS / 1000} s (${format(gets)} gets each), all three at once; ` +
      `latency from the call to its promise settling`,
    `gets that waited ≥ ${LOAD_MS / 2} ms: ${steady.streams.refresh.waited} with refreshAhead, ${steady.streams.plain.waited} without ` +
      `(p99.9 ${format(steady.p('refresh', 0.999))} ms vs ${format(steady.p('plain', 0.999))} ms; max ${format(steady.p('refresh', 1))} ms vs ${format(steady.p('plain', 1))} ms)`,
    `refreshAhead reloaded in the background ${steady.stats.refresh.backgroundReloads} times and missed ${steady.stats.refresh.misses - 1} gets; ` +
      `without it ${steady.stats.plain.misses - 1} gets missed across ${steady.stats.plain.loads - 1} expiries`,
  ],
);
