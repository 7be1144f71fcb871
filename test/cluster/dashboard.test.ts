import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { encodeAddRequest, Operation } from '../../src/protocol/codec.js';
import { startCluster, stopCluster, type ClusterNode } from '../helpers/cluster.js';
import { sample } from '../helpers/metrics.js';

/** Debian's chromium (apt-get install chromium); playwright-core never downloads a browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
/** Every node runs the session listener (so all define the same keyspaces); the load goes to the first. */
const sessionListen = (ip: string) => `IP:${ip}:7166`;

/** The series each chart must draw once the load ran: [card selector, chart, series]. */
const EXPECTED_SERIES: [string, string, string[]][] = [
  ['[data-keyspace-card="ks"]', 'requests', ['hits', 'misses', 'writes', 'errors']],
  ['[data-keyspace-card="ks"]', 'latency', ['p50', 'p99']],
  ['[data-keyspace-card="ks"]', 'datasource', ['loads', 'errors']],
  ['[data-keyspace-card="ks"]', 'usage', ['hit rate', 'memory']],
  ['[data-keyspace-card="ssl-sessions"]', 'requests', ['hits', 'misses', 'writes']],
  ['#peer-card', 'peer-requests', ['ok']],
  ['#peer-card', 'peer-latency', ['p50', 'p99']],
  ['#session-card', 'sessions', ['ADD', 'GET', 'REMOVE', 'HAVE']],
  ['#session-card', 'session-lookups', ['found', 'not found']],
];

/**
 * Page-side: the series of EXPECTED_SERIES that draw nothing above their
 * chart's zero line. (Conditions are strings: this file is type-checked
 * without the DOM library.)
 */
const EMPTY_SERIES = `(${JSON.stringify(EXPECTED_SERIES)}).flatMap(([card, chart, names]) => names.filter((name) => {
  const svg = document.querySelector(card + ' [data-chart="' + chart + '"] svg');
  const path = svg && [...svg.querySelectorAll('path')].find((candidate) => candidate.dataset.series === name);
  if (!path) return true;
  const ys = [...path.getAttribute('d').matchAll(/[ML]\\S+ (\\S+)/g)].map((match) => Number(match[1]));
  return !ys.some((y) => y < Number(svg.dataset.bottom));
}).map((name) => card + ' ' + chart + ': ' + name))`;

/** Page-side: every element inside a card that is wider than its box or sticks out of its card. */
const OVERFLOWS = `[...document.querySelectorAll('main section')].filter((card) => !card.hidden).flatMap((card) => {
  const box = card.getBoundingClientRect();
  const name = (node) => node.tagName.toLowerCase() + (node.className && typeof node.className === 'string' ? '.' + node.className.split(' ').join('.') : '');
  return [card, ...card.querySelectorAll('*')].flatMap((node) => {
    const rect = node.getBoundingClientRect();
    const problems = [];
    if (node.clientWidth > 0 && node.scrollWidth > node.clientWidth) problems.push(name(node) + ' scrollWidth ' + node.scrollWidth + ' > clientWidth ' + node.clientWidth);
    if (rect.width > 0 && (rect.left < box.left - 0.5 || rect.right > box.right + 0.5)) problems.push(name(node) + ' spans ' + rect.left + '..' + rect.right + ' outside its card ' + box.left + '..' + box.right);
    return problems;
  });
}).concat(document.documentElement.scrollWidth > document.documentElement.clientWidth ? ['the page scrolls sideways'] : [])`;

/** Reads, misses with loads, load errors, writes, peer requests and session operations through node 1, for `ms`. */
async function applyLoad(node: ClusterNode, failing: string[], ms: number): Promise<void> {
  const sessions = new DcClient(parseSessionAddress(sessionListen(node.config.ip)));
  const bytes = (text: string) => new TextEncoder().encode(text);
  try {
    for (let round = 0, until = Date.now() + ms; Date.now() < until; round++) {
      const fresh = Array.from({ length: 30 }, (_, i) => `r${round}-k${i}`);
      await node.send({ cmd: 'getMany', keys: fresh });
      for (let i = 0; i < 5; i++) await node.send({ cmd: 'getMany', keys: fresh });
      await node.send({ cmd: 'getMany', keys: failing }); // a failed load is not cached: each get loads again
      await node.send({ cmd: 'put', key: `written-${round}`, value: 'v' });
      const id = bytes(`session-${round}`);
      await sessions.request(Operation.ADD, encodeAddRequest(60_000, id, bytes('tls session state')));
      await sessions.request(Operation.GET, id);
      await sessions.request(Operation.GET, bytes(`missing-${round}`));
      await sessions.request(Operation.HAVE, id);
      await sessions.request(Operation.REMOVE, id);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  } finally {
    sessions.close();
  }
}

async function assertNothingOverflows(page: Page, width: number): Promise<void> {
  await page.setViewportSize({ width, height: 1000 });
  // One refresh at the new width, so the charts are drawn for it.
  await page.waitForFunction(`document.getElementById('status').textContent.includes('updated')`);
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  assert.deepEqual(await page.evaluate(OVERFLOWS), [], `at ${width} px wide`);
  await page.screenshot({ path: `${ARTIFACTS}dashboard-${width}.png`, fullPage: true });
}

describe('the admin dashboard in a real headless browser', () => {
  let nodes: ClusterNode[] = [];
  let browser: Browser | undefined;
  after(async () => {
    await browser?.close();
    await stopCluster(nodes);
  });

  it('shows 3 members of a 3-node cluster, then 2 within seconds after one is killed; the metrics count it too', async () => {
    nodes = await startCluster('127.0.66', 3, (ip) => ({ admin: true, sessionListen: [sessionListen(ip)] }));
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
    const membersShown = (count: number) =>
      page.waitForFunction(`document.getElementById('members-count')?.textContent === '${count}'`, undefined, {
        timeout: 10_000,
      });
    await membersShown(3);
    assert.equal(await page.locator('#members [data-state="alive"]').count(), 3);
    assert.deepEqual(await page.locator('#members .tag').allTextContents(), ['this node']);
    assert.deepEqual(await page.locator('#members td:last-child').allTextContents(), ['same', 'same', 'same']);
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

    // Keys the node itself owns, so that it loads them (and counts the load errors) itself.
    const candidates = Array.from({ length: 60 }, (_, i) => `fail:${i}`);
    const owned = await nodes[0]!.send<string[]>({ cmd: 'owned', keys: candidates, by: nodes[0]!.id });
    await applyLoad(nodes[0]!, owned.slice(0, 3), 4_000);
    await page
      .waitForFunction(`${EMPTY_SERIES}.length === 0`, undefined, { timeout: 10_000 })
      .catch(async () => assert.deepEqual(await page.evaluate(EMPTY_SERIES), [], 'series that drew nothing'));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-3-members.png`, fullPage: true });
    // 1400 is where the old layout cut the members table off.
    for (const width of [1280, 1400, 1920]) await assertNothingOverflows(page, width);

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
