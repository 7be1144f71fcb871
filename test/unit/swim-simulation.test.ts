/**
 * The SWIM state machine driven by the deterministic simulator: 1,000 virtual
 * nodes on a virtual clock, with message loss, crashes, pauses and partitions.
 * Bounds come from the protocol's own timing, not from a recorded run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_TIMING, FIRST_SYNC_DELAY, suspicionTimeout } from '../../src/cluster/swim/timing.js';
import {
  crashDetection,
  formation,
  gracefulLeave,
  partitionAndHeal,
  pauseAndResume,
  steadyState,
} from '../helpers/swim-scenarios.js';
import { nodeId, SwimSimulation } from '../helpers/swim-simulator.js';

const { probeInterval } = DEFAULT_TIMING;
const LOSS = 0.01;

describe('SWIM simulated at scale', () => {
  it('1,000 nodes with 1% message loss: no false death, rare false suspicions, and as many messages per node as 100 nodes', () => {
    const small = steadyState(100, 11, LOSS, 60);
    const large = steadyState(1_000, 11, LOSS, 60);
    console.log(JSON.stringify({ small, large }));
    for (const report of [small, large]) {
      assert.equal(report.falseDeaths, 0, `no live node declared dead at ${report.nodes} nodes`);
      assert.ok(
        report.falseSuspicions <= Math.max(1, report.probes / 10_000),
        `at most one false suspicion per 10,000 probes: ${report.falseSuspicions} in ${report.probes}`,
      );
      // A probe is a ping and its ack; indirect probes, gossip and anti-entropy add a little.
      const perPeriod = report.messagesPerNodePerSecond * (probeInterval / 1_000);
      assert.ok(perPeriod >= 2 && perPeriod <= 3, `messages per node per probe period: ${perPeriod}`);
    }
    const growth = large.messagesPerNodePerSecond / small.messagesPerNodePerSecond;
    assert.ok(growth <= 1.2, `messages per node per second at 1,000 nodes / at 100: ${growth}`);
  });

  it('1,000 nodes: a crash is suspected within a few probe periods and is dead at every node within twice the suspicion timeout', () => {
    const bound = 2 * suspicionTimeout(DEFAULT_TIMING, 1_000);
    const silent = crashDetection(1_000, 12, LOSS, 2);
    const refused = crashDetection(1_000, 13, LOSS, 1, true);
    console.log(JSON.stringify({ silent, refused, bound }));
    for (const report of [...silent, ...refused]) {
      assert.ok(report.firstSuspicionMs <= 8 * probeInterval, `first suspicion after ${report.firstSuspicionMs} ms`);
      assert.ok(report.deadEverywhereMs <= bound, `dead everywhere after ${report.deadEverywhereMs} ms (≤ ${bound})`);
      assert.ok(
        report.deadEverywhereMs >= suspicionTimeout(DEFAULT_TIMING, 1_000),
        'no node declares dead before the shortest suspicion',
      );
    }
  });

  it('a node paused for 10 s is declared dead, learns it when it resumes, and is alive everywhere soon after', () => {
    const report = pauseAndResume(100, 14, LOSS, 10_000);
    console.log(JSON.stringify(report));
    assert.ok(
      report.deadEverywhereMs <= 2 * suspicionTimeout(DEFAULT_TIMING, 100),
      `dead after ${report.deadEverywhereMs}`,
    );
    assert.ok(report.toldDeclaredDead, 'the paused node is told it was declared dead');
    assert.ok(
      report.aliveEverywhereMs <= 4 * probeInterval,
      `alive everywhere ${report.aliveEverywhereMs} ms after resume`,
    );
  });

  it('a 50 | 50 partition: each side declares the other dead, and membership converges within 10 s of the heal', () => {
    const report = partitionAndHeal(100, 15, LOSS, 30_000);
    console.log(JSON.stringify(report));
    assert.ok(report.splitSeenMs < 30_000, `split seen after ${report.splitSeenMs} ms`);
    assert.ok(report.healedMs <= 10_000, `converged ${report.healedMs} ms after the heal`);
  });

  it('a graceful leave reaches all of 1,000 nodes within a second', () => {
    const ms = gracefulLeave(1_000, 16, LOSS);
    console.log(JSON.stringify({ leftEverywhereMs: ms }));
    assert.ok(ms <= 1_000, `left everywhere after ${ms} ms`);
  });

  it('100 nodes joining through 3 seeds list each other within a probe round, most runs within 10 s', () => {
    // A pair that every rumour missed meets at the latest when one probes the other, once per round.
    const round = 100 * probeInterval + FIRST_SYNC_DELAY;
    const runs = [17, 18, 19, 20, 21].map((seed) => formation(100, seed, LOSS, 3, round));
    console.log(JSON.stringify({ formedMs: runs }));
    for (const ms of runs) assert.ok(ms <= round, `formed after ${ms} ms`);
    assert.ok(runs.filter((ms) => ms <= 10_000).length >= 4, 'most runs form within 10 s');
  });

  it('is deterministic: the same seed gives the same run, another seed another', () => {
    const run = (seed: number) => {
      const sim = new SwimSimulation({
        nodes: 50,
        seed,
        network: { minDelay: 1, maxDelay: 20, loss: 0.05 },
        start: 'formed',
      });
      sim.runUntil(5_000);
      sim.crash(nodeId(7), false);
      sim.runUntil(20_000);
      return JSON.stringify({ changes: sim.changes, sent: sim.totalSent() });
    };
    assert.equal(run(5), run(5));
    assert.notEqual(run(5), run(6));
  });
});
