import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { DASHBOARD_METRICS_SCRIPT } from '../../src/admin/dashboard-metrics.js';
import type { KeyspaceStats } from '../../src/index.js';
import { EngineMetrics } from '../../src/observability/metrics.js';

type Series = Map<string, unknown>;
interface Quantiles {
  p50: number | undefined;
  p99: number | undefined;
}
/** The page's functions, run as the browser runs them: plain script in a context of its own. */
const page = runInNewContext(`${DASHBOARD_METRICS_SCRIPT}\n({ parseMetrics, growthBy, requestQuantiles })`) as {
  parseMetrics(text: string): Series;
  growthBy(
    now: Series,
    before: Series,
    name: string,
    groupOf: (labels: Record<string, string>) => string,
  ): Map<string, number>;
  requestQuantiles(
    now: Series,
    before: Series,
    counter: string,
    histogram: string,
    keyspace: string,
    operation: string,
  ): Quantiles;
};

const STATS = { bytes: 0, maxBytes: 0, entries: 0, evictions: 0, limiterQueued: 0, breakerState: 'disabled' };

/** A real metrics registry over one keyspace "ks" whose immediate hits the test sets. */
function registry() {
  const immediate = { immediateHits: 0, immediateNotFound: 0 };
  const metrics = new EngineMetrics({
    keyspaces: () => [{ name: 'ks', stats: STATS as KeyspaceStats, immediate }],
    members: () => [],
    replicating: () => ({ running: 0, waiting: 0 }),
  });
  return { metrics, immediate, scrape: async () => page.parseMetrics(await metrics.text()) };
}

const getQuantiles = (now: Series, before: Series) =>
  page.requestQuantiles(now, before, 'distcache_requests_total', 'distcache_request_duration_seconds', 'ks', 'get');

describe("the dashboard's reading of /metrics", () => {
  it('puts p50 and p99 in the buckets where the calls fell', async () => {
    const { metrics, scrape } = registry();
    for (let i = 0; i < 90; i++) metrics.request('ks', 'get', 'miss', 0.000_3);
    for (let i = 0; i < 10; i++) metrics.request('ks', 'get', 'miss', 0.04);
    const { p50, p99 } = getQuantiles(await scrape(), new Map());
    assert.ok(p50! > 0.000_1 && p50! <= 0.000_5, `p50 ${p50}`);
    assert.ok(p99! > 0.025 && p99! <= 0.05, `p99 ${p99}`);
  });

  it('weighs hits timed 1 in 1024 as every hit they stand for', async () => {
    const { metrics, immediate, scrape } = registry();
    immediate.immediateHits = 10_240;
    for (let i = 0; i < 10; i++) metrics.observe('ks', 'get', 'hit', 0.000_002);
    for (let i = 0; i < 200; i++) metrics.request('ks', 'get', 'miss', 0.02);
    const { p50, p99 } = getQuantiles(await scrape(), new Map());
    assert.ok(p50! <= 0.000_01, `p50 ${p50}: a hit's latency, as 98% of the gets were hits`);
    assert.ok(p99! > 0.01 && p99! <= 0.025, `p99 ${p99}: a miss's latency`);
  });

  it('between two scrapes counts only the calls made in between', async () => {
    const { metrics, immediate, scrape } = registry();
    immediate.immediateHits = 50;
    for (let i = 0; i < 100; i++) metrics.request('ks', 'get', 'miss', 0.04);
    const before = await scrape();
    immediate.immediateHits = 80;
    for (let i = 0; i < 100; i++) metrics.request('ks', 'get', 'miss', 0.000_3);
    metrics.request('ks', 'get', 'ERR_DATASOURCE_FAILED', 0.001);
    const now = await scrape();
    // Object.fromEntries builds the object in this realm, from the VM's Map.
    assert.deepEqual(
      Object.fromEntries(page.growthBy(now, before, 'distcache_requests_total', (labels) => labels.outcome!)),
      { hit: 30, miss: 100, ERR_DATASOURCE_FAILED: 1 },
    );
    const { p99 } = getQuantiles(now, before);
    assert.ok(p99! <= 0.001, `p99 ${p99}: the slow calls came before the window`);
  });
});
