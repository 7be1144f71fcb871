import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { TlsSessionSharingStats } from '../../src/tls/index.js';
import { TestCa } from '../helpers/certs.js';
import { startCluster, stopCluster, waitForAdmitted, type ClusterNode } from '../helpers/cluster.js';
import { sleep } from '../helpers/engine.js';
import { visit, type HttpsVisit, type VisitOptions } from '../helpers/https-client.js';

const PORT = 4443;
const ca = new TestCa('tls-fleet');
const caPem = readFileSync(ca.ca.cert);

/** Starts `count` nodes on `ipPrefix`.2.., each an engine and an HTTPS server wired to it; runs `body`; stops them. */
async function withFleet(
  ipPrefix: string,
  count: number,
  settings: { replicaCount?: number; rotationInterval?: number },
  body: (nodes: ClusterNode[]) => Promise<void>,
): Promise<void> {
  const ips = Array.from({ length: count }, (_, i) => `${ipPrefix}.${i + 2}`);
  const cert = ca.issue(`fleet-${ipPrefix}`, ips);
  let nodes: ClusterNode[] = [];
  try {
    nodes = await startCluster(ipPrefix, count, {
      replicaCount: settings.replicaCount,
      https: { port: PORT, ...cert, rotationInterval: settings.rotationInterval, deadline: 1_000 },
    });
    // Once every node sees the same members, the first ticket key is agreed on one owner.
    await Promise.all(nodes.map((node) => node.send({ cmd: 'startHttps' })));
    await body(nodes);
  } finally {
    await stopCluster(nodes);
  }
}

const visitNode = (node: ClusterNode, options: Omit<VisitOptions, 'ca'>): Promise<HttpsVisit> =>
  visit(node.config.ip, PORT, { ca: caPem, ...options });

const CLIENTS = {
  'TLS 1.2 session id': { version: 'TLSv1.2', noTickets: true },
  'TLS 1.3 ticket': { version: 'TLSv1.3' },
} as const;

describe('HTTPS servers on a distcache cluster share TLS sessions (distcache/tls)', () => {
  it('a client resumes on every other node, with TLS 1.2 and 1.3, and still after the node that stored its session is killed (replicaCount 2)', async () => {
    await withFleet('127.0.101', 3, { replicaCount: 2 }, async (nodes) => {
      const [first, ...others] = nodes as [ClusterNode, ...ClusterNode[]];
      const sessions: { client: string; session: Buffer }[] = [];
      for (const [client, options] of Object.entries(CLIENTS)) {
        // Several sessions, so that some are owned by the node that will die.
        for (let i = 0; i < 8; i++) {
          const visited = await visitNode(first, options);
          assert.equal(visited.reused, false);
          sessions.push({ client, session: visited.session! });
        }
      }
      for (const node of others)
        for (const { client, session } of sessions)
          assert.equal(
            (await visitNode(node, { ...CLIENTS[client as keyof typeof CLIENTS], session })).reused,
            true,
            `${client} resumed on ${node.config.ip}`,
          );

      first.signal('SIGKILL');
      await first.exited();
      await waitForAdmitted(others, others.length);
      for (const node of others)
        for (const { client, session } of sessions) {
          const visited = await visitNode(node, { ...CLIENTS[client as keyof typeof CLIENTS], session });
          assert.equal(visited.body, node.config.ip);
          assert.equal(visited.reused, true, `${client} resumed on ${node.config.ip} after ${first.config.ip} died`);
        }
      const stats = await others[0]!.send<TlsSessionSharingStats>({ cmd: 'tlsStats' });
      assert.equal(stats.cacheFailures, 0);
    });
  });

  it('the nodes rotate to one new ticket key each epoch: a ticket of the previous epoch gets a full handshake, a new one resumes everywhere', async () => {
    const interval = 3_000;
    await withFleet('127.0.102', 2, { rotationInterval: interval }, async ([a, b]) => {
      const untilEpochStart = async (ms: number) => {
        const now = Date.now();
        await sleep((Math.floor(now / interval) + 1) * interval - now + ms);
      };
      await untilEpochStart(500);
      const epoch = Math.floor(Date.now() / interval);
      const before = await visitNode(a!, CLIENTS['TLS 1.3 ticket']);
      assert.equal((await visitNode(b!, { ...CLIENTS['TLS 1.3 ticket'], session: before.session })).reused, true);

      await untilEpochStart(500);
      const epochs = await Promise.all([a!, b!].map((node) => node.send<TlsSessionSharingStats>({ cmd: 'tlsStats' })));
      assert.deepEqual(
        epochs.map((stats) => stats.ticketKeyEpoch),
        [epoch + 1, epoch + 1],
      );
      for (const node of [a!, b!]) {
        const stale = await visitNode(node, { ...CLIENTS['TLS 1.3 ticket'], session: before.session });
        assert.equal(stale.body, node.config.ip);
        assert.equal(stale.reused, false, 'a ticket sealed with the previous key is not accepted');
      }
      const after = await visitNode(b!, CLIENTS['TLS 1.3 ticket']);
      assert.equal(
        (await visitNode(a!, { ...CLIENTS['TLS 1.3 ticket'], session: after.session })).reused,
        true,
        'both nodes moved to the same key',
      );
    });
  });
});
