import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveKeyspaceConfig } from '../../src/config.js';
import { Keyspace } from '../../src/keyspace/keyspace.js';
import type { KeyspaceObserver } from '../../src/keyspace/observer.js';
import { TOMBSTONE, isNewerCopy, type VersionedCopy } from '../../src/keyspace/versions.js';
import { HybridLogicalClock } from '../../src/lib/hybrid-logical-clock.js';
import type { KeyspaceOptions } from '../../src/options.js';
import { bytes, countingSource, silentLogger, sleep, text } from '../helpers/engine.js';

const unobserved: KeyspaceObserver = { active: false, load: (_name, work) => work(), breakerTransition() {} };
const DEFAULTS = {
  defaultTtl: 0,
  readTimeout: 1_000,
  writeTimeout: 1_000,
  replicaCount: 1,
  circuitBreaker: undefined,
  rateLimit: undefined,
};

/** A keyspace as a cluster node holds it: versioned, deletes leave tombstones for `tombstoneTtl`. */
function clusterKeyspace(
  options: Partial<KeyspaceOptions> = {},
  tombstoneTtl = 60_000,
  clock = new HybridLogicalClock(),
) {
  const config = resolveKeyspaceConfig({ name: 'ks', maxBytes: 1 << 20, ...options }, DEFAULTS);
  return new Keyspace(config, silentLogger, unobserved, { clock, tombstoneTtl });
}

const put = (keyspace: Keyspace, key: string, value: string, atLeast = 0) =>
  keyspace.commitPut({ key, bytes: bytes(value), expiry: 0 }, false, atLeast);

const read = async (keyspace: Keyspace, key: string) => text((await keyspace.read(key, undefined))?.value ?? undefined);

const copy = (value: string | null | typeof TOMBSTONE, version: number, expiresAt = 0): VersionedCopy => ({
  value: typeof value === 'string' ? bytes(value) : value,
  expiresAt,
  version,
});

describe('versioned entries in a keyspace', () => {
  it('applies a copy from another node only when it is newer than the one held', async () => {
    const keyspace = clusterKeyspace();
    put(keyspace, 'k', 'held');
    const held = keyspace.copyOf('k')!.version;
    assert.equal(keyspace.merge('k', copy('older', held - 1)), false);
    assert.equal(await read(keyspace, 'k'), 'held');
    assert.equal(keyspace.merge('k', copy('newer', held + 1)), true);
    assert.equal(await read(keyspace, 'k'), 'newer');
  });

  it('applies a put even when the writer stamped it below the version held, and stores it above', () => {
    const keyspace = clusterKeyspace();
    keyspace.merge('k', copy('from a clock ahead', new HybridLogicalClock(() => Date.now() + 5_000).next()));
    const ahead = keyspace.copyOf('k')!.version;
    put(keyspace, 'k', 'later put from a lagging writer', ahead - 1_000);
    assert.equal(text(keyspace.copyOf('k')!.value!), 'later put from a lagging writer');
    assert.ok(keyspace.copyOf('k')!.version > ahead, 'the write outranks what it replaced');
  });

  it('a delete leaves a tombstone: an older copy does not bring the key back, and a read loads it again', async () => {
    const source = countingSource(0, (key) => bytes(`source:${key}`));
    const keyspace = clusterKeyspace({ dataSource: source });
    put(keyspace, 'k', 'put');
    const putVersion = keyspace.copyOf('k')!.version;
    assert.equal(keyspace.delete('k'), true);
    assert.equal(keyspace.merge('k', copy('put', putVersion)), false, 'the old copy loses to the tombstone');
    assert.equal(keyspace.holdsValue('k'), false);
    assert.equal(await read(keyspace, 'k'), 'source:k');
    assert.equal(source.calls, 1);
  });

  it('a tombstone lasts tombstoneTtl; without one (a standalone node) a delete leaves nothing', async () => {
    const remembering = clusterKeyspace({}, 50);
    put(remembering, 'k', 'v');
    remembering.delete('k');
    assert.equal(remembering.copyOf('k')?.value, TOMBSTONE);
    await sleep(80);
    assert.equal(await read(remembering, 'k'), undefined);
    assert.equal(remembering.copyOf('k'), undefined, 'dropped once expired');

    const standalone = clusterKeyspace({}, 0);
    put(standalone, 'k', 'v');
    standalone.delete('k');
    assert.equal(standalone.copyOf('k'), undefined);
  });

  it('a loaded value ranks below any put made elsewhere: the data source does not see puts', async () => {
    const keyspace = clusterKeyspace({ dataSource: countingSource(0, () => bytes('from the data source')) });
    const elsewhere = new HybridLogicalClock();
    const putElsewhere = elsewhere.next(); // a put on another node, before this node loaded
    await sleep(5);
    assert.equal(await read(keyspace, 'k'), 'from the data source');
    assert.ok(keyspace.copyOf('k')!.version < putElsewhere);
    assert.equal(keyspace.merge('k', copy('put', putElsewhere)), true);
    assert.equal(await read(keyspace, 'k'), 'put');
  });

  it('a copy that arrives while a load runs is what the load returns and keeps', async () => {
    const keyspace = clusterKeyspace({ dataSource: countingSource(40, () => bytes('from the data source')) });
    const loading = keyspace.read('k', undefined);
    await sleep(10);
    keyspace.merge('k', copy('handed off', new HybridLogicalClock().next()));
    assert.equal(text((await loading)!.value!), 'handed off');
    assert.equal(await read(keyspace, 'k'), 'handed off');
  });

  it('a tombstone that arrives while a load runs keeps the loaded value out of the store', async () => {
    const source = countingSource(40, () => bytes('loaded before the delete'));
    const keyspace = clusterKeyspace({ dataSource: source });
    const loading = keyspace.read('k', undefined);
    await sleep(10);
    keyspace.merge('k', copy(TOMBSTONE, new HybridLogicalClock().next(), Date.now() + 60_000));
    await loading;
    assert.equal(keyspace.copyOf('k')?.value, TOMBSTONE);
  });

  it('an expired copy is not applied', () => {
    const keyspace = clusterKeyspace();
    assert.equal(keyspace.merge('k', copy('old', 1, Date.now() - 1)), false);
    assert.equal(keyspace.copyOf('k'), undefined);
  });

  it('a newer copy that expired on its way ends the older value held; it does not bring back what it replaced', async () => {
    const keyspace = clusterKeyspace();
    put(keyspace, 'k', 'older');
    const held = keyspace.copyOf('k')!.version;
    // An async write with a short ttl: its copy arrives after the ttl ran out.
    assert.equal(keyspace.merge('k', copy('newer, short-lived', held + 1, Date.now() - 1)), true);
    assert.equal(await read(keyspace, 'k'), undefined, 'the older value is not served after the newer write');
    assert.equal(keyspace.merge('k', copy('older', held)), false, 'a copy of the older value does not come back');
    assert.equal(await read(keyspace, 'k'), undefined);
    assert.equal(keyspace.merge('k', copy('older still', held - 1, Date.now() - 1)), false);
  });

  it('any two different copies have exactly one winner, the same on every node', () => {
    const arbitraryCopy = fc.record({
      value: fc.oneof(fc.constant(null), fc.constant(TOMBSTONE), fc.uint8Array({ maxLength: 4 })),
      expiresAt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 })),
      version: fc.integer({ min: 1, max: 3 }),
    });
    fc.assert(
      fc.property(arbitraryCopy, arbitraryCopy, (a, b) => {
        const same =
          a.version === b.version &&
          a.expiresAt === b.expiresAt &&
          (a.value === b.value ||
            (a.value !== null &&
              b.value !== null &&
              a.value !== TOMBSTONE &&
              b.value !== TOMBSTONE &&
              Buffer.compare(a.value, b.value) === 0));
        const wins = Number(isNewerCopy(a, b)) + Number(isNewerCopy(b, a));
        assert.equal(wins, same ? 0 : 1);
      }),
    );
  });

  it('copies merged in any order leave every node with the same copy (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            value: fc.oneof(fc.constant(TOMBSTONE), fc.constantFrom('a', 'b', 'c')),
            version: fc.integer({ min: 1, max: 6 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.infiniteStream(fc.nat()),
        (copies, shuffleSeeds) => {
          const made = copies.map(({ value, version }) =>
            copy(value, version, value === TOMBSTONE ? Date.now() + 60_000 : 0),
          );
          const shuffled = [...made];
          const seeds = shuffleSeeds.take(shuffled.length);
          let i = shuffled.length;
          for (const seed of seeds) {
            const j = seed % i--;
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          const first = clusterKeyspace();
          const second = clusterKeyspace();
          for (const each of made) first.merge('k', each);
          for (const each of shuffled) second.merge('k', each);
          const one = first.copyOf('k')!;
          const other = second.copyOf('k')!;
          assert.equal(one.version, other.version);
          assert.equal(isNewerCopy(one, other) || isNewerCopy(other, one), false);
        },
      ),
    );
  });
});
