/**
 * The cost of operations features on the hot path (issue: operations), side
 * by side in one run: hit `engine.get` ops/s of an engine with the admin
 * server on (Prometheus metrics counting every get, the OpenTelemetry API
 * loaded with no provider registered) against the same engine without them.
 *
 * Each contender runs in a child process of its own, alternating A B A B:
 * one engine per process, as in production, and no JIT feedback shared
 * between the two code paths.
 *
 *   npm run bench:admin     (writes bench/results/admin.json)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Engine, type Logger } from '../src/index.js';
import { awaitedOpsPerSecond, report, row } from './harness.js';

const KEYS = 10_000;
const VALUE_BYTES = 1024;
const OPS_PER_TRIAL = 400_000;
const TRIALS_PER_PROCESS = 7;
const ROUNDS = 7;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

type Contender = 'observed' | 'plain';

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** In a child: fills one engine, measures it TRIALS_PER_PROCESS times, prints the median (and the hit counter it exported). */
async function measure(contender: Contender): Promise<void> {
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
  const order = Uint32Array.from({ length: OPS_PER_TRIAL }, (_, i) => (i * 7_919 + 13) % KEYS);
  const engine = new Engine({
    logger: silent,
    keyspaces: [{ name: 'users', maxBytes: 256 * 1024 * 1024 }],
    ...(contender === 'observed' ? { admin: { listen: '127.0.0.1:0' } } : {}),
  });
  await engine.start();
  const value = new Uint8Array(randomBytes(VALUE_BYTES));
  for (const key of keys) await engine.put('users', { key, value });
  const trials: number[] = [];
  for (let trial = 0; trial < TRIALS_PER_PROCESS; trial++)
    trials.push(await awaitedOpsPerSecond((key) => engine.get('users', key), keys, order));
  const url = engine.adminUrl();
  const metrics = url ? await (await fetch(`${url}/metrics`)).text() : '';
  const hits = metrics
    .split('\n')
    .find((line) => line.startsWith('distcache_requests_total{keyspace="users",operation="get",outcome="hit"}'));
  await engine.stop();
  process.stdout.write(JSON.stringify({ opsPerSecond: median(trials), hits: hits ?? null }));
}

function runChild(contender: Contender): { opsPerSecond: number; hits: string | null } {
  const output = execFileSync(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, contender], {
    encoding: 'utf8',
  });
  return JSON.parse(output);
}

const child = process.argv[2] as Contender | undefined;
if (child) {
  await measure(child);
} else {
  const samples: Record<Contender, number[]> = { observed: [], plain: [] };
  let hits: string | null = null;
  for (let round = 0; round < ROUNDS; round++) {
    for (const contender of ['observed', 'plain'] as const) {
      const result = runChild(contender);
      samples[contender].push(result.opsPerSecond);
      hits ??= result.hits;
    }
  }
  report(
    'admin',
    [
      row(
        'hit get ops/s with admin + metrics + OTel API (no provider)',
        median(samples.observed),
        'the same engine without them',
        median(samples.plain),
        'ops/s',
        { atLeast: 0.95 },
      ),
    ],
    [
      `${ROUNDS} rounds, each contender in its own process (A B A B ...), each process the median of ${TRIALS_PER_PROCESS} trials of ${OPS_PER_TRIAL.toLocaleString('en-US')} awaited hit gets over ${KEYS.toLocaleString('en-US')} keys of ${VALUE_BYTES} B; medians of the rounds.`,
      `The observed engine counted every get (timing 1 in 1024 hits and every miss); its last trial exported ${hits ?? 'no sample'}.`,
    ],
  );
}
