import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StaticDiscovery } from '../../discovery/static.js';
import { Engine, ErrorCode, type EngineOptions, type KeyspaceOptions } from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { bytes, countingSource, silentLogger, sleep } from '../helpers/engine.js';
import { sample } from '../helpers/metrics.js';

const PEERS = ['127.0.29.2:3322', '127.0.29.3:3322'];

function node(ip: string, keyspace: Partial<KeyspaceOptions> = {}, engine: Partial<EngineOptions> = {}): Engine {
  return new Engine({
    logger: silentLogger,
    bindAddr: ip,
    discovery: new StaticDiscovery({ peers: PEERS }),
    keyspaces: [{ name: 'ks', maxBytes: 1 << 20, dataSource: countingSource(), ...keyspace }],
    ...engine,
  });
}

/** How many requests of `type` a node with an admin server on `ip:9464` has sent to its peers. */
async function peerRequestsSent(ip: string, type: string): Promise<number> {
  const metrics = await (await fetch(`http://${ip}:9464/metrics`)).text();
  return sample(metrics, `distcache_peer_request_duration_seconds_count{type="${type}",outcome="ok"}`) ?? 0;
}

/** Waits until both engines admit each other. */
async function converge(a: Engine, b: Engine): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ([a, b].every((engine) => engine.peers().filter((peer) => peer.admitted && peer.state === 'alive').length === 2))
      return;
    await sleep(50);
  }
  throw new Error('the two nodes did not converge');
}

describe('two nodes in one process', () => {
  it('a node whose peer port is taken fails to start with ERR_INVALID_CONFIG naming the address', async () => {
    const first = node('127.0.29.2');
    await first.start();
    const second = node('127.0.29.2');
    try {
      const error = await rejectsWithCode(second.start(), ErrorCode.INVALID_CONFIG);
      assert.match(error.message, /cannot listen on 127\.0\.29\.2:3320 \(EADDRINUSE\)/);
      await first.put('ks', { key: 'still', value: bytes('serving') });
      assert.ok(await first.get('ks', 'still'));
    } finally {
      await first.stop();
    }
  });

  it('with hotCache off, every read on a non-owner goes to the owner; with it on, repeated reads stay local', async () => {
    for (const hotCache of [false, true]) {
      const a = node('127.0.29.2', { hotCache });
      const b = node('127.0.29.3', { hotCache });
      await Promise.all([a.start(), b.start()]);
      try {
        await converge(a, b);
        const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find(
          (candidate) => a.owners('ks', candidate)[0] === '127.0.29.3:3320',
        )!;
        for (let i = 0; i < 5; i++) assert.ok(await a.get('ks', key));
        const ownerReads = b.stats('ks').hits + b.stats('ks').misses;
        assert.equal(ownerReads, hotCache ? 1 : 5);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    }
  });

  it('a value too large to send between nodes fails the remote get with ERR_INVALID_ARGUMENT; the owner keeps serving', async () => {
    const huge = 17 * 1024 * 1024;
    const keyspace = {
      maxBytes: 64 << 20,
      hotCache: false,
      dataSource: countingSource(0, (key) => (key.startsWith('huge') ? new Uint8Array(huge) : bytes(`value:${key}`))),
    };
    const a = node('127.0.29.2', keyspace);
    const b = node('127.0.29.3', keyspace);
    await Promise.all([a.start(), b.start()]);
    try {
      await converge(a, b);
      const ownedByB = (prefix: string) =>
        Array.from({ length: 100 }, (_, i) => `${prefix}${i}`).find(
          (key) => a.owners('ks', key)[0] === '127.0.29.3:3320',
        )!;
      const error = await rejectsWithCode(a.get('ks', ownedByB('huge')), ErrorCode.INVALID_ARGUMENT);
      assert.match(error.message, /must stay under 16 MiB/);
      assert.equal((await b.get('ks', ownedByB('huge')))?.value.byteLength, huge);
      assert.deepEqual((await a.get('ks', ownedByB('small')))?.value, bytes(`value:${ownedByB('small')}`));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('with replicaReads a replica answers reads and refuses a taken ifAbsent put from its own copy; without, it asks the owner', async () => {
    for (const replicaReads of [true, false]) {
      const keyspace = { replicaCount: 2, replicaReads, hotCache: false, dataSource: undefined };
      const a = node('127.0.29.2', keyspace);
      const b = node('127.0.29.3', keyspace, { admin: { listen: '127.0.29.3:9464' } });
      await Promise.all([a.start(), b.start()]);
      try {
        await converge(a, b);
        const key = Array.from({ length: 100 }, (_, i) => `s${i}`).find(
          (candidate) => a.owners('ks', candidate)[0] === '127.0.29.2:3320',
        )!;
        assert.deepEqual(b.owners('ks', key), ['127.0.29.2:3320', '127.0.29.3:3320']);
        await b.put('ks', { key, value: bytes('session') });
        const ownerHits = a.stats('ks').hits;
        for (let i = 0; i < 3; i++) assert.deepEqual((await b.get('ks', key))?.value, bytes('session'));
        assert.equal(a.stats('ks').hits - ownerHits, replicaReads ? 0 : 3);
        assert.equal(b.stats('ks').hits, replicaReads ? 3 : 0);
        const putsBefore = await peerRequestsSent('127.0.29.3', 'PUT');
        assert.equal(await b.put('ks', { key, value: bytes('other') }, { ifAbsent: true }), false);
        assert.equal((await peerRequestsSent('127.0.29.3', 'PUT')) - putsBefore, replicaReads ? 0 : 1);
        assert.deepEqual((await a.get('ks', key))?.value, bytes('session'));
        await a.delete('ks', key);
        assert.equal(await b.get('ks', key), undefined);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    }
  });

  it('nodes with different keyspace definitions report the mismatch in peers()', async () => {
    const a = node('127.0.29.2');
    const b = node('127.0.29.3', { maxBytes: 2 << 20 });
    await Promise.all([a.start(), b.start()]);
    try {
      await converge(a, b);
      const seen = a.peers().find((peer) => peer.id === '127.0.29.3:3320');
      assert.equal(seen?.digestMismatch, true);
      assert.equal(a.peers()[0]?.self, true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
