/**
 * Shared pieces of the benchmarks: timing, interleaved trials, and the JSON
 * result format that bench/report.ts turns into the README table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** One line of the README performance table. */
export interface BenchRow {
  /** What was measured, e.g. "hit get ops/s vs lru-cache". */
  readonly metric: string;
  readonly ours: number;
  readonly anchor: number;
  readonly anchorName: string;
  readonly unit: string;
  /** ours / anchor. */
  readonly ratio: number;
  /** The ratio the issue asks for; null when the row only reports. */
  readonly goal: Goal | null;
}

/** A bound on ours / anchor: at least (throughput) or at most (time, memory). */
export type Goal = { readonly atLeast: number } | { readonly atMost: number };

export interface BenchResult {
  readonly bench: string;
  /** The README table it belongs to: Performance (default) or Scaling. */
  readonly section?: 'scaling';
  readonly date: string;
  readonly node: string;
  readonly cpu: string;
  readonly rows: BenchRow[];
  readonly notes: string[];
}

/** Builds a row with ratio = ours / anchor. */
export function row(
  metric: string,
  ours: number,
  anchorName: string,
  anchor: number,
  unit: string,
  goal: Goal | null = null,
): BenchRow {
  return { metric, ours, anchor, anchorName, unit, ratio: Math.round((ours / anchor) * 1000) / 1000, goal };
}

/** "≥ 0.5x", "≤ 1.5x" or "-". */
export function describeGoal(goal: Goal | null): string {
  if (goal === null) return '-';
  return 'atLeast' in goal ? `≥ ${goal.atLeast}x` : `≤ ${goal.atMost}x`;
}

/** Whether a row meets its goal; undefined when it has none. */
export function goalMet(r: BenchRow): boolean | undefined {
  if (r.goal === null) return undefined;
  return 'atLeast' in r.goal ? r.ratio >= r.goal.atLeast : r.ratio <= r.goal.atMost;
}

/** ops/s of `get` awaited one after another, visiting `keys` in `order`; a miss fails the benchmark. */
export async function awaitedOpsPerSecond(
  get: (key: string) => unknown,
  keys: readonly string[],
  order: Uint32Array,
): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < order.length; i++) {
    if ((await get(keys[order[i]!]!)) === undefined) throw new Error('benchmark miss');
  }
  return order.length / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Runs each contender `rounds` times, interleaved (A B C A B C ...), and returns each one's median. */
export async function interleavedMedians<K extends string>(
  contenders: Record<K, () => Promise<number>>,
  rounds: number,
): Promise<Record<K, number>> {
  const samples = {} as Record<K, number[]>;
  for (const name of Object.keys(contenders) as K[]) samples[name] = [];
  for (let round = 0; round < rounds; round++) {
    for (const name of Object.keys(contenders) as K[]) samples[name].push(await contenders[name]());
  }
  const medians = {} as Record<K, number>;
  for (const name of Object.keys(samples) as K[]) {
    const sorted = samples[name].sort((a, b) => a - b);
    medians[name] = sorted[Math.floor(sorted.length / 2)]!;
  }
  return medians;
}

/** Prints the rows and writes bench/results/<bench>.json. */
export function report(bench: string, rows: BenchRow[], notes: string[], section?: 'scaling'): void {
  const result: BenchResult = {
    bench,
    ...(section === undefined ? {} : { section }),
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    rows,
    notes,
  };
  console.table(
    rows.map((r) => ({
      metric: r.metric,
      ours: `${format(r.ours)} ${r.unit}`,
      anchor: `${r.anchorName}: ${format(r.anchor)} ${r.unit}`,
      ratio: `${r.ratio}x`,
      goal: describeGoal(r.goal),
      met: { true: 'yes', false: 'NO', undefined: '-' }[String(goalMet(r))],
    })),
  );
  for (const note of notes) console.log(`note: ${note}`);
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${bench}.json`, dir), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote bench/results/${bench}.json`);
}

/** Number with thousands separators and at most 2 decimals. */
export function format(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: value < 10 ? 2 : 0 });
}

/** Throughput and latency of one kind of request. */
export interface InFlightReport {
  readonly opsPerSecond: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly errors: number;
}

/** Runs `request` over `keys` with `inFlight` requests outstanding for `durationMs`. */
export async function measureInFlight(
  request: (key: string) => Promise<unknown>,
  keys: readonly string[],
  durationMs: number,
  inFlight: number,
): Promise<InFlightReport> {
  // Latencies go to a typed array: a growing JS array of numbers would make
  // the measuring process's GC (and so the measured latency) worse.
  let latencies = new Float64Array(1 << 20);
  let count = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      for (let i = worker; performance.now() - started < durationMs; i += inFlight) {
        const sent = performance.now();
        try {
          await request(keys[i % keys.length]!);
          if (count === latencies.length) {
            const grown = new Float64Array(latencies.length * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[count++] = performance.now() - sent;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const sorted = latencies.subarray(0, count).sort();
  const at = (q: number): number => sorted[Math.min(count - 1, Math.floor(q * count))] ?? 0;
  return { opsPerSecond: count / elapsed, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1), errors };
}
