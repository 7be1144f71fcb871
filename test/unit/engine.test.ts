import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Engine, ErrorCode, ENTRY_OVERHEAD_BYTES, jsonCodec, msgpackCodec } from '../../src/index.js';
import { rejectsWithCode, throwsWithCode } from '../helpers/assert-code.js';
import { bytes, countingSource, silentLogger, sleep, startEngine, text } from '../helpers/engine.js';

describe('Engine lifecycle', () => {
  it('refuses calls before start() with ERR_ENGINE_NOT_STARTED', async () => {
    const engine = new Engine({ logger: silentLogger, keyspaces: [{ name: 'ks', maxBytes: 1024 }] });
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.ENGINE_NOT_STARTED);
    await rejectsWithCode(engine.put('ks', { key: 'a', value: bytes('x') }), ErrorCode.ENGINE_NOT_STARTED);
    throwsWithCode(() => engine.keySpaces(), ErrorCode.ENGINE_NOT_STARTED);
    throwsWithCode(() => engine.stats('ks'), ErrorCode.ENGINE_NOT_STARTED);
  });

  it('refuses calls after stop(), and starts again with empty caches', async () => {
    const engine = await startEngine({});
    await engine.put('ks', { key: 'a', value: bytes('x') });
    await engine.stop();
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.ENGINE_NOT_STARTED);
    await rejectsWithCode(engine.delete('ks', 'a'), ErrorCode.ENGINE_NOT_STARTED);
    await engine.start();
    assert.equal(await engine.get('ks', 'a'), undefined);
    await engine.stop();
  });

  it('lets a load in progress finish for its caller during stop()', async () => {
    const source = countingSource(50);
    const engine = await startEngine({ dataSource: source });
    const pending = engine.get('ks', 'slow');
    await sleep(5);
    await engine.stop();
    assert.equal(text((await pending)?.value), 'value:slow');
  });

  it('start() and stop() are idempotent', async () => {
    const engine = new Engine({ logger: silentLogger, keyspaces: [{ name: 'ks', maxBytes: 1024 }] });
    await Promise.all([engine.start(), engine.start()]);
    assert.deepEqual(engine.keySpaces(), ['ks']);
    await Promise.all([engine.stop(), engine.stop()]);
    await engine.stop();
  });
});

describe('Engine reads and writes', () => {
  it('loads a miss from the data source, then serves it from the store', async () => {
    const source = countingSource();
    const engine = await startEngine({ dataSource: source });
    assert.deepEqual(await engine.get('ks', 'a'), { key: 'a', value: bytes('value:a') });
    assert.deepEqual(await engine.get('ks', 'a'), { key: 'a', value: bytes('value:a') });
    assert.equal(source.calls, 1);
    const stats = engine.stats('ks');
    assert.deepEqual([stats.hits, stats.misses, stats.loads, stats.entries], [1, 1, 1, 1]);
    await engine.stop();
  });

  it('resolves undefined when the data source returns null or undefined', async () => {
    const engine = await startEngine({ dataSource: countingSource(0, (key) => (key === 'null' ? null : undefined)) });
    assert.equal(await engine.get('ks', 'null'), undefined);
    assert.equal(await engine.get('ks', 'undefined'), undefined);
    await engine.stop();
  });

  it('getMany resolves in the order of the keys asked', async () => {
    const engine = await startEngine({
      dataSource: countingSource(0, (key) => (key === 'missing' ? null : bytes(key))),
    });
    const results = await engine.getMany('ks', ['c', 'missing', 'a', 'b']);
    assert.deepEqual(
      results.map((result) => text(result?.value)),
      ['c', undefined, 'a', 'b'],
    );
    await engine.stop();
  });

  it('rejects an unknown keyspace with ERR_KEYSPACE_NOT_FOUND', async () => {
    const engine = await startEngine({});
    await rejectsWithCode(engine.get('nope', 'a'), ErrorCode.KEYSPACE_NOT_FOUND);
    await rejectsWithCode(engine.put('nope', { key: 'a', value: bytes('x') }), ErrorCode.KEYSPACE_NOT_FOUND);
    throwsWithCode(() => engine.stats('nope'), ErrorCode.KEYSPACE_NOT_FOUND);
    await engine.stop();
  });

  it('put then get returns the put value without calling the data source', async () => {
    const source = countingSource();
    const engine = await startEngine({ dataSource: source });
    await engine.put('ks', { key: 'a', value: bytes('put') });
    assert.equal(text((await engine.get('ks', 'a'))?.value), 'put');
    assert.equal(source.calls, 0);
    await engine.stop();
  });

  it('keeps its own copy of put bytes: mutating the caller array changes nothing', async () => {
    const engine = await startEngine({});
    const value = bytes('original');
    await engine.put('ks', { key: 'a', value });
    value.fill(0);
    assert.equal(text((await engine.get('ks', 'a'))?.value), 'original');
    await engine.stop();
  });

  it('putMany writes nothing when one entry is invalid', async () => {
    const engine = await startEngine({});
    await rejectsWithCode(
      engine.putMany('ks', [
        { key: 'a', value: bytes('1') },
        { key: 'b', value: 'not bytes' as unknown as Uint8Array },
      ]),
      ErrorCode.INVALID_ARGUMENT,
    );
    assert.equal(engine.stats('ks').entries, 0);
    await engine.putMany('ks', [
      { key: 'a', value: bytes('1') },
      { key: 'b', value: bytes('2') },
    ]);
    assert.equal(engine.stats('ks').entries, 2);
    await engine.stop();
  });

  it('delete and deleteMany remove entries and report what was cached', async () => {
    const engine = await startEngine({});
    await engine.putMany(
      'ks',
      ['a', 'b', 'c'].map((key) => ({ key, value: bytes(key) })),
    );
    assert.equal(await engine.delete('ks', 'a'), true);
    assert.equal(await engine.delete('ks', 'a'), false);
    assert.equal(await engine.deleteMany('ks', ['b', 'c', 'zz']), 2);
    assert.equal(engine.stats('ks').entries, 0);
    await engine.stop();
  });

  it('a put while a load of the same key is running wins over the loaded value', async () => {
    const source = countingSource(40, () => bytes('from-db'));
    const engine = await startEngine({ dataSource: source });
    const loading = engine.get('ks', 'a');
    await sleep(5);
    await engine.put('ks', { key: 'a', value: bytes('newer') });
    assert.equal(text((await loading)?.value), 'from-db');
    assert.equal(text((await engine.get('ks', 'a'))?.value), 'newer');
    await engine.stop();
  });

  it('rejects a non-bytes value without a codec as ERR_INVALID_ARGUMENT and leaves the store unchanged', async () => {
    const engine = await startEngine({});
    await engine.put('ks', { key: 'a', value: bytes('kept') });
    for (const value of ['text', 42, { a: 1 }, null, undefined, [1, 2]]) {
      await rejectsWithCode(
        engine.put('ks', { key: 'a', value: value as unknown as Uint8Array }),
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    assert.equal(text((await engine.get('ks', 'a'))?.value), 'kept');
    await engine.stop();
  });

  it('rejects bad keys as ERR_INVALID_ARGUMENT', async () => {
    const engine = await startEngine({ dataSource: countingSource() });
    for (const key of ['', 42, null, undefined, 'x'.repeat(8193)]) {
      await rejectsWithCode(engine.get('ks', key as string), ErrorCode.INVALID_ARGUMENT);
    }
    await rejectsWithCode(engine.put('ks', { key: 'é'.repeat(4097), value: bytes('x') }), ErrorCode.INVALID_ARGUMENT);
    await engine.stop();
  });

  it('returns a value larger than the keyspace to the caller without storing it', async () => {
    const big = new Uint8Array(4096).fill(7);
    const engine = await startEngine({ maxBytes: 1024, dataSource: countingSource(0, () => big) });
    assert.equal((await engine.get('ks', 'big'))?.value.byteLength, 4096);
    assert.deepEqual([engine.stats('ks').entries, engine.stats('ks').bytes], [0, 0]);
    await engine.stop();
  });

  it('stats.bytes is the sum of entry costs and stays within maxBytes', async () => {
    const cost = 3 + 100 + ENTRY_OVERHEAD_BYTES;
    const engine = await startEngine({ maxBytes: 10 * cost + Math.floor(cost / 2) });
    for (let i = 0; i < 100; i++)
      await engine.put('ks', { key: `k${String(i).padStart(2, '0')}`, value: new Uint8Array(100) });
    const stats = engine.stats('ks');
    assert.deepEqual([stats.entries, stats.bytes, stats.evictions], [10, 10 * cost, 90]);
    await engine.stop();
  });
});

describe('Engine expiry', () => {
  it('expires entries after defaultTtl, then loads them again', async () => {
    const source = countingSource();
    const engine = await startEngine({ dataSource: source, defaultTtl: 30 });
    await engine.get('ks', 'a');
    await engine.get('ks', 'a');
    await sleep(45);
    await engine.get('ks', 'a');
    assert.equal(source.calls, 2);
    await engine.stop();
  });

  it('the keyspace expiresAt(key) wins over defaultTtl', async () => {
    const source = countingSource();
    const engine = await startEngine({
      dataSource: source,
      defaultTtl: 60_000,
      expiresAt: (key) => (key === 'short' ? new Date(Date.now() + 20) : undefined),
    });
    await engine.getMany('ks', ['short', 'long']);
    await sleep(35);
    await engine.getMany('ks', ['short', 'long']);
    assert.deepEqual(source.keys, ['short', 'long', 'short']);
    await engine.stop();
  });

  it('put honours ttl and expiresAt per entry, and refuses both at once', async () => {
    const engine = await startEngine({ defaultTtl: 60_000 });
    await engine.put('ks', { key: 'ttl', value: bytes('1'), ttl: 20 });
    await engine.put('ks', { key: 'at', value: bytes('2'), expiresAt: Date.now() + 20 });
    await engine.put('ks', { key: 'forever', value: bytes('3'), ttl: 0 });
    await rejectsWithCode(
      engine.put('ks', { key: 'both', value: bytes('4'), ttl: 5, expiresAt: Date.now() }),
      ErrorCode.INVALID_ARGUMENT,
    );
    await rejectsWithCode(engine.put('ks', { key: 'neg', value: bytes('4'), ttl: -1 }), ErrorCode.INVALID_ARGUMENT);
    await sleep(35);
    assert.deepEqual(
      (await engine.getMany('ks', ['ttl', 'at', 'forever'])).map((result) => text(result?.value)),
      [undefined, undefined, '3'],
    );
    await engine.stop();
  });
});

describe('Engine keyspace management', () => {
  it('deleteKeySpace drops the keyspace and its entries', async () => {
    const engine = await startEngine({});
    await engine.put('ks', { key: 'a', value: bytes('x') });
    await engine.deleteKeySpace('ks');
    assert.deepEqual(engine.keySpaces(), []);
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.KEYSPACE_NOT_FOUND);
    await rejectsWithCode(engine.deleteKeySpace('ks'), ErrorCode.KEYSPACE_NOT_FOUND);
    await engine.stop();
  });

  it('deleteKeySpaces removes none when one name is unknown', async () => {
    const engine = new Engine({
      logger: silentLogger,
      keyspaces: [
        { name: 'a', maxBytes: 1024 },
        { name: 'b', maxBytes: 1024 },
      ],
    });
    await engine.start();
    await rejectsWithCode(engine.deleteKeySpaces(['a', 'nope']), ErrorCode.KEYSPACE_NOT_FOUND);
    assert.deepEqual(engine.keySpaces(), ['a', 'b']);
    await engine.deleteKeySpaces(['a', 'b']);
    assert.deepEqual(engine.keySpaces(), []);
    await engine.stop();
  });

  it('updateKeySpace replaces the data source and drops entries of the old definition', async () => {
    const engine = await startEngine({ dataSource: countingSource(0, () => bytes('old')) });
    assert.equal(text((await engine.get('ks', 'a'))?.value), 'old');
    await engine.updateKeySpace({ name: 'ks', maxBytes: 2048, dataSource: countingSource(0, () => bytes('new')) });
    assert.equal(text((await engine.get('ks', 'a'))?.value), 'new');
    assert.equal(engine.stats('ks').maxBytes, 2048);
    await engine.stop();
  });

  it('updateKeySpace adds a keyspace that does not exist, and validates its definition', async () => {
    const engine = await startEngine({});
    await engine.updateKeySpace({ name: 'extra', maxBytes: 1024 });
    assert.deepEqual(engine.keySpaces().sort(), ['extra', 'ks']);
    await rejectsWithCode(engine.updateKeySpace({ name: 'bad', maxBytes: 0 }), ErrorCode.INVALID_CONFIG);
    await engine.stop();
  });
});

describe('Engine codecs', () => {
  for (const codec of [jsonCodec, msgpackCodec]) {
    it(`${codec.name}: get/put and the data source use typed values`, async () => {
      const engine = await startEngine<unknown>({
        codec,
        dataSource: { fetch: async (key) => ({ id: key, tags: ['a', 'b'] }) },
      });
      assert.deepEqual((await engine.get('ks', '7'))?.value, { id: '7', tags: ['a', 'b'] });
      await engine.put('ks', { key: '8', value: { n: 8 } });
      assert.deepEqual((await engine.get('ks', '8'))?.value, { n: 8 });
      await engine.stop();
    });
  }

  it('a value the codec cannot encode is ERR_INVALID_ARGUMENT on put', async () => {
    const engine = await startEngine<unknown>({ codec: jsonCodec });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await rejectsWithCode(engine.put('ks', { key: 'a', value: circular }), ErrorCode.INVALID_ARGUMENT);
    await rejectsWithCode(engine.put('ks', { key: 'a', value: 10n }), ErrorCode.INVALID_ARGUMENT);
    assert.equal(engine.stats('ks').entries, 0);
    await engine.stop();
  });
});

describe('Engine put ifAbsent', () => {
  it('writes only when the key holds no fresh value, and says which', async () => {
    const engine = await startEngine({});
    assert.equal(await engine.put('ks', { key: 'a', value: bytes('first') }, { ifAbsent: true }), true);
    assert.equal(await engine.put('ks', { key: 'a', value: bytes('second') }, { ifAbsent: true }), false);
    assert.equal(text((await engine.get('ks', 'a'))?.value), 'first');
    await engine.put('ks', { key: 'short', value: bytes('x'), ttl: 10 });
    await sleep(20);
    assert.equal(
      await engine.put('ks', { key: 'short', value: bytes('y') }, { ifAbsent: true }),
      true,
      'an expired value does not count',
    );
    await engine.stop();
  });
});
