/**
 * The long membership run: 1,000 simulated nodes for 30 virtual minutes at
 * 1% and at 5% message loss (no false death allowed; at most one false
 * suspicion per 10,000 probes at 1%), then 20 crashes one
 * after the other, each to be found dead everywhere within twice the
 * shortest suspicion.
 *   npm run soak
 */
import assert from 'node:assert/strict';
import { DEFAULT_TIMING, suspicionTimeout } from '../../src/cluster/swim/timing.js';
import { crashDetection, steadyState } from '../helpers/swim-scenarios.js';

const NODES = 1_000;
const SECONDS = 1_800;

for (const loss of [0.01, 0.05]) {
  const report = steadyState(NODES, 101, loss, SECONDS);
  console.log(JSON.stringify(report));
  assert.equal(report.falseDeaths, 0, `false deaths at ${loss * 100}% loss`);
  if (loss <= 0.01) assert.ok(report.falseSuspicions <= report.probes / 10_000, 'false suspicions at 1% loss');
}

const bound = 2 * suspicionTimeout(DEFAULT_TIMING, NODES);
const crashes = crashDetection(NODES, 102, 0.01, 20);
console.log(JSON.stringify(crashes));
for (const crash of crashes)
  assert.ok(crash.deadEverywhereMs <= bound, `dead everywhere after ${crash.deadEverywhereMs} ms`);
console.log('membership soak: passed');
