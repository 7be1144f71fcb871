import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startCluster, stopCluster, type ClusterNode } from '../helpers/cluster.js';
import { sample } from '../helpers/metrics.js';

/** Debian's chromium (apt-get install chromium); playwright-core never downloads a browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;

describe('the admin dashboard in a real headless browser', () => {
  let nodes: ClusterNode[] = [];
  let browser: Browser | undefined;
  after(async () => {
    await browser?.close();
    await stopCluster(nodes);
  });

  it('shows 3 members of a 3-node cluster, then 2 within seconds after one is killed; the metrics count it too', async () => {
    nodes = await startCluster('127.0.66', 3, { admin: true });
    await nodes[0]!.send({ cmd: 'getMany', keys: Array.from({ length: 20 }, (_, i) => `k${i}`) });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto('http://127.0.66.2:9464/');
    // Page-side conditions are strings: this file is type-checked without the DOM library.
    const membersShown = (count: number) =>
      page.waitForFunction(`document.getElementById('members-count')?.textContent === '${count}'`, undefined, {
        timeout: 10_000,
      });
    await membersShown(3);
    assert.equal(await page.locator('#members [data-state="alive"]').count(), 3);
    assert.equal(await page.locator('#ownership tr').count(), 3);
    assert.equal(await page.locator('#keyspaces tr[data-keyspace="ks"]').count(), 1);
    assert.equal(
      await page
        .locator(
          '#keyspaces tr[data-keyspace="ks"] [data-state="disabled"], #keyspaces tr[data-keyspace="ks"] [data-state="closed"]',
        )
        .count(),
      1,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-3-members.png`, fullPage: true });

    const killedAt = Date.now();
    nodes[2]!.signal('SIGKILL');
    await membersShown(2);
    const seconds = (Date.now() - killedAt) / 1000;
    assert.ok(seconds < 5, `the page showed 2 members after ${seconds} s`);
    await page.waitForFunction(`document.querySelectorAll('#ownership tr').length === 2`, undefined, {
      timeout: 5_000,
    });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-2-members.png`, fullPage: true });

    const metrics = await (await fetch('http://127.0.66.2:9464/metrics')).text();
    const value = (line: string) => sample(metrics, line) ?? Number.NaN;
    assert.ok(value('distcache_membership_changes_total{kind="joined"}') >= 2, 'joins counted');
    assert.ok(value('distcache_membership_changes_total{kind="left"}') >= 1, 'the kill counted');
    assert.equal(value('distcache_cluster_members{state="alive"}'), 2);
    assert.ok(
      value('distcache_peer_request_duration_seconds_count{type="GET",outcome="ok"}') >= 1,
      'remote reads timed',
    );
  });
});
