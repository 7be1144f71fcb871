/**
 * SWIM membership beyond one machine, by simulation (issue: scale): the
 * membership state machine driven by the deterministic simulator
 * (test/helpers/swim-simulator.ts) at 1,000 virtual nodes, side by side with
 * 100, on a virtual LAN (0.5-5 ms one way) that loses 1% of the messages.
 * Virtual time: the figures do not depend on this machine's speed.
 *
 *   npm run bench:membership     (writes bench/results/membership-sim.json)
 */
import { DEFAULT_TIMING, suspicionTimeout } from '../src/cluster/swim/timing.js';
import {
  crashDetection,
  formation,
  gracefulLeave,
  partitionAndHeal,
  pauseAndResume,
  steadyState,
  type DetectionReport,
} from '../test/helpers/swim-scenarios.js';
import { report, row } from './harness.js';

const LOSS = 0.01;
const STEADY_SECONDS = 300;
const CRASHES = 5;
const SIZES = [100, 1_000] as const;

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const worst = (values: number[]): number => Math.max(...values);

function timed<T>(label: string, run: () => T): T {
  const started = performance.now();
  const result = run();
  console.log(`${label}: ${Math.round(performance.now() - started)} ms of wall time`);
  return result;
}

const steady = SIZES.map((nodes) => timed(`steady ${nodes}`, () => steadyState(nodes, 1, LOSS, STEADY_SECONDS)));
const silent = SIZES.map((nodes) => timed(`crash ${nodes}`, () => crashDetection(nodes, 2, LOSS, CRASHES)));
const refused = SIZES.map((nodes) => timed(`kill ${nodes}`, () => crashDetection(nodes, 3, LOSS, CRASHES, true)));
const paused = SIZES.map((nodes) => timed(`pause ${nodes}`, () => pauseAndResume(nodes, 4, LOSS, 10_000)));
const left = SIZES.map((nodes) => timed(`leave ${nodes}`, () => gracefulLeave(nodes, 5, LOSS)));
const healed = timed('partition 100', () => [6, 7, 8].map((seed) => partitionAndHeal(100, seed, LOSS, 30_000)));
const formed = timed('formation 100', () =>
  [9, 10, 11, 12, 13, 14, 15].map((seed) => formation(100, seed, LOSS, 3, 120_000)),
);

const [small, large] = steady as [(typeof steady)[0], (typeof steady)[0]];
const of = (reports: DetectionReport[][], pick: (r: DetectionReport) => number) =>
  reports.map((runs) => runs.map(pick)) as [number[], number[]];
const [silentFirst100, silentFirst1000] = of(silent, (r) => r.firstSuspicionMs);
const [silentDead100, silentDead1000] = of(silent, (r) => r.deadEverywhereMs);
const [killFirst100, killFirst1000] = of(refused, (r) => r.firstSuspicionMs);
const [killDead100, killDead1000] = of(refused, (r) => r.deadEverywhereMs);
const shortest1000 = suspicionTimeout(DEFAULT_TIMING, 1_000);

report(
  'membership-sim',
  [
    row(
      'messages per node per second, 1,000 nodes',
      large.messagesPerNodePerSecond,
      '100 nodes',
      small.messagesPerNodePerSecond,
      'msg/s',
      { atMost: 1.2 },
    ),
    row(
      `false suspicions in ${STEADY_SECONDS} s, 1,000 nodes`,
      large.falseSuspicions,
      'probes made',
      large.probes,
      'times',
    ),
    row(`false deaths in ${STEADY_SECONDS} s, 1,000 nodes`, large.falseDeaths, 'probes made', large.probes, 'times', {
      atMost: 0,
    }),
    row(
      'crash: first suspicion (median of 5), 1,000 nodes',
      median(silentFirst1000),
      '100 nodes',
      median(silentFirst100),
      'ms',
    ),
    row(
      'crash: dead at every node (median of 5), 1,000 nodes',
      median(silentDead1000),
      '100 nodes',
      median(silentDead100),
      'ms',
    ),
    row(
      'crash: dead at every node (worst of 5), 1,000 nodes',
      worst(silentDead1000),
      'shortest suspicion at 1,000 nodes',
      shortest1000,
      'ms',
    ),
    row(
      'kill -9 (connections refused): first suspicion (median of 5), 1,000 nodes',
      median(killFirst1000),
      '100 nodes',
      median(killFirst100),
      'ms',
    ),
    row(
      'kill -9 (connections refused): dead at every node (median of 5), 1,000 nodes',
      median(killDead1000),
      '100 nodes',
      median(killDead100),
      'ms',
    ),
    row(
      'pause 10 s: dead at every node, 1,000 nodes',
      paused[1]!.deadEverywhereMs,
      '100 nodes',
      paused[0]!.deadEverywhereMs,
      'ms',
    ),
    row(
      'pause 10 s: alive everywhere after the resume, 1,000 nodes',
      paused[1]!.aliveEverywhereMs,
      '100 nodes',
      paused[0]!.aliveEverywhereMs,
      'ms',
    ),
    row('graceful leave: left at every node, 1,000 nodes', left[1]!, '100 nodes', left[0]!, 'ms'),
    row(
      '50/50 partition of 100 nodes: converged after the heal (worst of 3)',
      worst(healed.map((r) => r.healedMs)),
      'issue bound',
      10_000,
      'ms',
      { atMost: 1 },
    ),
    row(
      '100 nodes joining through 3 seeds: full views (median of 7)',
      median(formed),
      'worst of the 7',
      worst(formed),
      'ms',
    ),
  ],
  [
    `virtual time; 0.5-5 ms one way, ${LOSS * 100}% of messages lost; defaults: probe every ${DEFAULT_TIMING.probeInterval} ms, probe timeout ${DEFAULT_TIMING.probeTimeout} ms, ${DEFAULT_TIMING.indirectChecks} indirect probes, suspicion ${DEFAULT_TIMING.suspicionMultiplier} × max(1, log10 N) × probe interval (up to 6x without confirmations)`,
    `steady state over ${STEADY_SECONDS} s after a 5 s settle: 100 nodes sent ${JSON.stringify(small.byType)}; 1,000 nodes ${JSON.stringify(large.byType)}; false suspicions at 100 nodes: ${small.falseSuspicions}, false deaths: ${small.falseDeaths}`,
    `crashes: ${CRASHES} nodes one after the other, each found dead everywhere before the next; silent crash (no answer) or kill -9 (the host refuses connections, so probes fail at once); first suspicion ranges ${Math.round(Math.min(...silentFirst1000))}-${Math.round(worst(silentFirst1000))} ms at 1,000 nodes (silent)`,
    `pause: SIGSTOP-like, messages wait in the buffers; the paused node was told it had been declared dead: ${paused.every((p) => p.toldDeclaredDead)}`,
    `partition: split seen by every node after ${healed.map((r) => Math.round(r.splitSeenMs / 100) / 10).join(' / ')} s; converged ${healed.map((r) => Math.round(r.healedMs / 100) / 10).join(' / ')} s after the heal`,
    `formation: ${formed.map((ms) => Math.round(ms / 100) / 10).join(' / ')} s; a pair every rumour missed meets at the next full-state exchange or when one probes the other`,
  ],
  'scaling',
);
