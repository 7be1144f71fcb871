import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StaticDiscovery } from '../../discovery/static.js';
import { Engine, type EngineOptions } from '../../src/index.js';
import { countingSource, silentLogger, sleep } from '../helpers/engine.js';
import { sample } from '../helpers/metrics.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the admin endpoints answer JSON
type Json = any;

function node(ip: string, options: Partial<EngineOptions> = {}): Engine {
  return new Engine({
    logger: silentLogger,
    bindAddr: ip,
    admin: { listen: `${ip}:9464` },
    keyspaces: [{ name: 'ks', maxBytes: 1 << 20, dataSource: countingSource() }],
    ...options,
  });
}

async function admin(ip: string, path: string): Promise<Json> {
  const response = await fetch(`http://${ip}:9464${path}`);
  return path === '/metrics' ? response.text() : response.json();
}

describe('the member list', () => {
  it('of a standalone node is the node itself, marked self, as /health counts it', async () => {
    const engine = node('127.0.150.10');
    const startedAt = Date.now();
    await engine.start();
    try {
      const peers = engine.peers();
      assert.deepEqual(
        peers.map(({ id, discoveryAddress, state, self, admitted, digestMismatch }) => ({
          id,
          discoveryAddress,
          state,
          self,
          admitted,
          digestMismatch,
        })),
        [
          {
            id: '127.0.150.10:3320',
            discoveryAddress: '127.0.150.10:3322',
            state: 'alive',
            self: true,
            admitted: true,
            digestMismatch: false,
          },
        ],
      );
      assert.ok(peers[0]!.incarnation >= startedAt);
      const listed: Json[] = await admin('127.0.150.10', '/peers');
      assert.deepEqual(
        listed.map(({ id, self }: Json) => ({ id, self })),
        [{ id: '127.0.150.10:3320', self: true }],
      );
      assert.equal((await admin('127.0.150.10', '/health')).members, listed.length);
      const metrics: string = await admin('127.0.150.10', '/metrics');
      assert.equal(sample(metrics, 'distcache_cluster_members{state="alive"}'), 1);
      assert.deepEqual((await admin('127.0.150.10', '/ownership')).shares, [{ member: '127.0.150.10:3320', share: 1 }]);
    } finally {
      await engine.stop();
    }
  });

  it('of a cluster node holds every member once, itself marked self, with the fields a standalone node has', async () => {
    const ips = ['127.0.150.11', '127.0.150.12'];
    const discovery = () => new StaticDiscovery({ peers: ips.map((ip) => `${ip}:3322`) });
    const engines = ips.map((ip) => node(ip, { discovery: discovery() }));
    const standalone = node('127.0.150.13');
    await Promise.all([...engines, standalone].map((engine) => engine.start()));
    try {
      const admitted = (engine: Engine) => engine.peers().filter((peer) => peer.admitted).length;
      for (let i = 0; i < 100 && !engines.every((engine) => admitted(engine) === 2); i++) await sleep(50);
      const fields = Object.keys((await admin('127.0.150.13', '/peers'))[0]).sort();
      for (const ip of ips) {
        const listed: Json[] = await admin(ip, '/peers');
        assert.deepEqual(listed.map(({ id }: Json) => id).sort(), ['127.0.150.11:3320', '127.0.150.12:3320']);
        assert.deepEqual(
          listed.filter(({ self }: Json) => self).map(({ id }: Json) => id),
          [`${ip}:3320`],
        );
        for (const member of listed) assert.deepEqual(Object.keys(member).sort(), fields);
      }
    } finally {
      await Promise.all([...engines, standalone].map((engine) => engine.stop()));
    }
  });
});
