import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Handoff, batches, type HandoffEntry } from '../../src/cluster/handoff.js';
import { createXxhash64 } from '../../src/cluster/hasher.js';
import { HotCache } from '../../src/cluster/hot-cache.js';
import { Placement } from '../../src/cluster/placement.js';
import { Resync } from '../../src/cluster/resync.js';
import { resolveKeyspaceConfig } from '../../src/config.js';
import { Keyspace } from '../../src/keyspace/keyspace.js';
import type { KeyspaceObserver } from '../../src/keyspace/observer.js';
import { TOMBSTONE } from '../../src/keyspace/versions.js';
import { HybridLogicalClock } from '../../src/lib/hybrid-logical-clock.js';
import { bytes, silentLogger } from '../helpers/engine.js';

const unobserved: KeyspaceObserver = { active: false, load: (_name, work) => work(), breakerTransition() {} };
const [A, B, C, D] = ['10.0.0.1:3320', '10.0.0.2:3320', '10.0.0.3:3320', '10.0.0.4:3320'] as const;

function keyspaceOf(replicaCount: number): Keyspace {
  const config = resolveKeyspaceConfig(
    { name: 'ks', maxBytes: 1 << 22, replicaCount },
    {
      defaultTtl: 0,
      readTimeout: 1_000,
      writeTimeout: 1_000,
      replicaCount,
      circuitBreaker: undefined,
      rateLimit: undefined,
    },
  );
  return new Keyspace(config, silentLogger, unobserved, { clock: new HybridLogicalClock(), tombstoneTtl: 60_000 });
}

/**
 * A handoff from node `self` whose sends are recorded; they fail for the
 * nodes in `unreachable`, and the nodes in `lagging` answer that they do not
 * own the keys (their view of the members is behind).
 */
function recordingHandoff(self: string, keyspace: Keyspace, unreachable: string[] = [], lagging: string[] = []) {
  const sent = new Map<string, HandoffEntry[]>();
  const handoff = new Handoff({
    selfId: self,
    keyspaces: () => [keyspace],
    logger: silentLogger,
    send: async (node, _name, entries) => {
      if (unreachable.includes(node)) throw new Error(`${node} is unreachable`);
      sent.set(node, [...(sent.get(node) ?? []), ...entries]);
      return !lagging.includes(node);
    },
  });
  return { handoff, sent };
}

describe('Handoff', async () => {
  const hasher = await createXxhash64();
  const view = (...members: string[]) => {
    const placement = new Placement(hasher);
    placement.setMembers(members);
    return placement;
  };
  const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);

  it('when a node joins, sends it exactly the entries it gained from this node, tombstones too, then drops them here', async () => {
    const keyspace = keyspaceOf(1);
    const before = view(A, B, C);
    const after = view(A, B, C, D);
    const mine = keys.filter((key) => before.primary('ks', key) === A);
    for (const key of mine) keyspace.commitPut({ key, bytes: bytes(key), expiry: 0 });
    keyspace.delete(mine[0]!);
    const { handoff, sent } = recordingHandoff(A, keyspace);
    await handoff.reconcile(before, after, () => after);
    const moved = mine.filter((key) => after.primary('ks', key) === D);
    assert.ok(moved.length > 0 && moved.length < mine.length);
    assert.deepEqual([...sent.keys()], [D]);
    assert.deepEqual(
      sent
        .get(D)!
        .map((entry) => entry.key)
        .sort(),
      [...moved].sort(),
    );
    if (moved.includes(mine[0]!))
      assert.equal(sent.get(D)!.find((entry) => entry.key === mine[0])!.copy.value, TOMBSTONE);
    for (const key of mine)
      assert.equal(keyspace.copyOf(key) !== undefined, !moved.includes(key), `${key} kept only while owned`);
  });

  it('keeps a copy no owner took (unreachable, or its view is behind) and sends it again at the next reconcile', async () => {
    const keyspace = keyspaceOf(1);
    const before = view(A, B);
    const after = view(A, B, C);
    const mine = keys.filter((key) => before.primary('ks', key) === A);
    const moving = mine.filter((key) => after.primary('ks', key) === C);
    for (const key of mine) keyspace.commitPut({ key, bytes: bytes(key), expiry: 0 });
    for (const refusal of [{ unreachable: [C] }, { lagging: [C] }]) {
      const { handoff } = recordingHandoff(A, keyspace, refusal.unreachable, refusal.lagging);
      const { unplaced } = await handoff.reconcile(before, after, () => after);
      assert.equal(unplaced, moving.length);
      for (const key of mine) assert.ok(keyspace.copyOf(key), `${key} kept`);
    }
    const { handoff, sent } = recordingHandoff(A, keyspace);
    assert.deepEqual(await handoff.reconcile(after, after, () => after), { sent: moving.length, unplaced: 0 });
    assert.deepEqual(
      sent
        .get(C)!
        .map((entry) => entry.key)
        .sort(),
      [...moving].sort(),
    );
    for (const key of moving) assert.equal(keyspace.copyOf(key), undefined, `${key} dropped once C took it`);
  });

  it('with two copies, a replica that stays an owner sends the entry to the node that gained it, and keeps it', async () => {
    const keyspace = keyspaceOf(2);
    const before = view(A, B, C);
    const after = view(A, B, C, D);
    const held = keys.filter((key) => before.owners('ks', key, 2).includes(A));
    for (const key of held) keyspace.commitPut({ key, bytes: bytes(key), expiry: 0 });
    const { handoff, sent } = recordingHandoff(A, keyspace);
    await handoff.reconcile(before, after, () => after);
    const gainedByD = held.filter((key) => after.owners('ks', key, 2).includes(D));
    assert.deepEqual((sent.get(D) ?? []).map((entry) => entry.key).sort(), [...gainedByD].sort());
    for (const key of held) assert.equal(keyspace.copyOf(key) !== undefined, after.owners('ks', key, 2).includes(A));
  });

  it('before leaving, sends every entry it owns to the owners it will have without this node', async () => {
    const keyspace = keyspaceOf(1);
    const current = view(A, B, C);
    const without = view(B, C);
    const mine = keys.filter((key) => current.primary('ks', key) === A);
    for (const key of mine) keyspace.commitPut({ key, bytes: bytes(key), expiry: 0 });
    const { handoff, sent } = recordingHandoff(A, keyspace);
    assert.equal(await handoff.handOffBeforeLeaving(current, without), mine.length);
    for (const key of mine) {
      const to = without.primary('ks', key);
      assert.ok(
        sent.get(to)!.some((entry) => entry.key === key),
        `${key} went to ${to}`,
      );
    }
  });

  it('batches stay within their entry and byte bounds, in order', () => {
    const entries = Array.from({ length: 3_000 }, (_, i) => ({
      key: `k${i}`,
      copy: { value: new Uint8Array(i % 7 === 0 ? 200_000 : 10), expiresAt: 0, version: i },
    }));
    const split = [...batches(entries)];
    assert.deepEqual(split.flat(), entries);
    for (const batch of split) {
      assert.ok(batch.length <= 1_024);
      const size = batch.reduce((sum, entry) => sum + entry.key.length + entry.copy.value!.byteLength, 0);
      assert.ok(batch.length === 1 || size <= 512 * 1024, `${size} bytes in a batch of ${batch.length}`);
    }
  });
});

describe('Resync', async () => {
  const hasher = await createXxhash64();

  it('trusts a key written here after the sync began, but checks a copy another node sent during it, however new', async () => {
    const clock = new HybridLogicalClock();
    const keyspace = new Keyspace(keyspaceOf(1).config, silentLogger, unobserved, { clock, tombstoneTtl: 60_000 });
    const placement = new Placement(hasher);
    placement.setMembers([A, B]);
    const peeked: string[] = [];
    const resync = new Resync({
      selfId: A,
      placement,
      clock,
      hot: new HotCache(),
      logger: silentLogger,
      others: () => [B],
      peek: async (_node, _keyspace, key) => {
        peeked.push(key);
        return undefined;
      },
      requestSync: () => new Promise(() => {}),
    });
    try {
      resync.start('started');
      keyspace.commitPut(keyspace.preparePut({ key: 'written', value: bytes('w') }));
      keyspace.merge('pushed', { value: bytes('p'), expiresAt: 0, version: clock.next() });
      resync.merged(keyspace, 'pushed');
      assert.equal(resync.isChecked(keyspace, 'written'), true, 'a write here after the sync began is the newest');
      assert.equal(
        resync.isChecked(keyspace, 'pushed'),
        false,
        'a pushed copy may be older than a write its sender missed',
      );
      await resync.check(keyspace, 'pushed');
      assert.deepEqual(peeked, ['pushed']);
      assert.equal(resync.isChecked(keyspace, 'pushed'), true);
    } finally {
      resync.stop();
    }
  });
});
