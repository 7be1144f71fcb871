/**
 * Single-node speed, side by side in one run (issue: standalone engine):
 * - hit `engine.get` ops/s vs raw lru-cache get and bentocache's memory driver;
 * - cold storm: 10,000 concurrent gets over 100 cold keys vs a bare
 *   Promise.all over the data source;
 * - heap per stored 1 KB entry.
 *
 *   npm run bench          (node --expose-gc, writes bench/results/local.json)
 */
import { randomBytes } from 'node:crypto';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { LRUCache } from 'lru-cache';
import { Engine, type Logger } from '../src/index.js';
import { awaitedOpsPerSecond, format, interleavedMedians, report, row } from './harness.js';

const KEYS = 10_000;
const VALUE_BYTES = 1024;
const OPS_PER_TRIAL = 400_000;
const ROUNDS = 7;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
const values = keys.map(() => new Uint8Array(randomBytes(VALUE_BYTES)));
/** A fixed pseudo-random visiting order, the same for every contender. */
const order = Uint32Array.from({ length: OPS_PER_TRIAL }, (_, i) => (i * 7_919 + 13) % KEYS);

/** ops/s of a synchronous get in a plain loop, for reference. */
async function syncOpsPerSecond(get: (key: string) => unknown): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < OPS_PER_TRIAL; i++) {
    if (get(keys[order[i]!]!) === undefined) throw new Error('benchmark miss');
  }
  return OPS_PER_TRIAL / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function hitThroughput() {
  const lru = new LRUCache<string, Uint8Array>({ max: KEYS * 2 });
  const engine = new Engine({ logger: silent, keyspaces: [{ name: 'users', maxBytes: 256 * 1024 * 1024 }] });
  await engine.start();
  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: KEYS * 2, serialize: false })) },
  });
  for (let i = 0; i < KEYS; i++) {
    lru.set(keys[i]!, values[i]!);
    await engine.put('users', { key: keys[i]!, value: values[i]! });
    await bento.set({ key: keys[i]!, value: values[i]! });
  }
  const medians = await interleavedMedians(
    {
      engine: () => awaitedOpsPerSecond((key) => engine.get('users', key), keys, order),
      lruAwaited: () => awaitedOpsPerSecond((key) => lru.get(key), keys, order),
      lruSync: () => syncOpsPerSecond((key) => lru.get(key)),
      bento: () => awaitedOpsPerSecond((key) => bento.get({ key }), keys, order),
    },
    ROUNDS,
  );
  await engine.stop();
  await bento.disconnect();
  return medians;
}

/** A data source answering after a 2 ms "query". */
function slowSource() {
  const source = {
    calls: 0,
    fetch: async (key: string): Promise<Uint8Array> => {
      source.calls++;
      await new Promise((resolve) => setTimeout(resolve, 2));
      return values[Number(key.slice(5)) % KEYS]!;
    },
  };
  return source;
}

const STORM_KEYS = Array.from({ length: 10_000 }, (_, i) => `user:${i % 100}`);

/** Wall time of 10,000 concurrent bare data-source calls. */
async function bareStormMs(): Promise<number> {
  const bare = slowSource();
  const started = performance.now();
  await Promise.all(STORM_KEYS.map((key) => bare.fetch(key)));
  return performance.now() - started;
}

/** Wall time of 10,000 concurrent gets on a cold engine; checks that it made exactly 100 calls. */
async function engineStormMs(): Promise<number> {
  const source = slowSource();
  const engine = new Engine({
    logger: silent,
    keyspaces: [{ name: 'users', maxBytes: 64 * 1024 * 1024, dataSource: source }],
  });
  await engine.start();
  const started = performance.now();
  const results = await Promise.all(STORM_KEYS.map((key) => engine.get('users', key)));
  const elapsed = performance.now() - started;
  await engine.stop();
  if (results.some((result) => result === undefined)) throw new Error('cold storm lost a value');
  if (source.calls !== 100) throw new Error(`cold storm made ${source.calls} data-source calls, expected 100`);
  return elapsed;
}

function heapInUse(): number {
  globalThis.gc!();
  globalThis.gc!();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

async function memoryPerEntry() {
  const entries = 50_000;
  const engine = new Engine({ logger: silent, keyspaces: [{ name: 'users', maxBytes: 1024 * 1024 * 1024 }] });
  await engine.start();
  const entryKeys = Array.from({ length: entries }, (_, i) => `user:${i}`);
  const payload = new Uint8Array(randomBytes(VALUE_BYTES));
  const before = heapInUse();
  for (const key of entryKeys) await engine.put('users', { key, value: payload });
  const after = heapInUse();
  const stats = engine.stats('users');
  await engine.stop();
  return { perEntry: (after - before) / entries, accounted: stats.bytes / entries };
}

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc (npm run bench)');

const hits = await hitThroughput();
const storm = await interleavedMedians({ engine: engineStormMs, bare: bareStormMs }, ROUNDS);
const memory = await memoryPerEntry();

report(
  'local',
  [
    row('hit get ops/s, awaited', hits.engine, 'lru-cache get, awaited', hits.lruAwaited, 'ops/s', { atLeast: 0.5 }),
    row('hit get ops/s', hits.engine, 'bentocache memory get', hits.bento, 'ops/s', { atLeast: 1.5 }),
    row('hit get ops/s vs a sync loop', hits.engine, 'lru-cache get, sync loop', hits.lruSync, 'ops/s'),
    row(
      'cold storm wall time (10,000 gets, 100 keys)',
      storm.engine,
      'Promise.all over the data source',
      storm.bare,
      'ms',
    ),
    row('cold storm data-source calls', 100, 'Promise.all over the data source', STORM_KEYS.length, 'calls'),
    row('heap per stored 1 KB entry', memory.perEntry, '1 KB payload', VALUE_BYTES, 'bytes', { atMost: 1.5 }),
  ],
  [
    `${KEYS} keys, ${VALUE_BYTES}-byte values, ${OPS_PER_TRIAL} gets a trial, median of ${ROUNDS} interleaved trials`,
    'awaited rows call each get as an async caller would (await per call); engine.get always returns a promise',
    'bentocache runs its memory driver with serialize: false (its fastest setting: values kept by reference)',
    'the data source of the cold storm answers after 2 ms; every engine run is checked to make exactly 100 calls',
    `memory counts heapUsed + arrayBuffers after gc; stats.bytes charged ${format(memory.accounted)} bytes an entry`,
  ],
);
