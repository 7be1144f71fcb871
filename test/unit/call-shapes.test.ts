import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DnsDiscovery } from '../../discovery/dns.js';
import { KubernetesDiscovery } from '../../discovery/kubernetes.js';
import { NatsDiscovery } from '../../discovery/nats.js';
import { StaticDiscovery } from '../../discovery/static.js';
import { ENTRY_OVERHEAD_BYTES, ErrorCode, type Engine } from '../../src/index.js';
import { rejectsWithCode, throwsWithCode } from '../helpers/assert-code.js';
import { bytes, countingSource, startEngine } from '../helpers/engine.js';

/** Keys holding a lone surrogate: UTF-8 cannot carry them, so each would reach other nodes as U+FFFD. */
const LONE_SURROGATES = ['a\uD800b', 'a\uDBFFb', 'a\uDC00', '\uD800', `${'x'.repeat(3000)}\uDFFF`];

describe('engine calls refuse what they cannot honour', () => {
  let engine: Engine;
  before(async () => {
    engine = await startEngine({ maxBytes: 16 * 1024, dataSource: countingSource() });
  });
  after(() => engine.stop());

  it('a put of a value larger than the keyspace rejects with ERR_INVALID_ARGUMENT, and stores nothing', async () => {
    await engine.put('ks', { key: 'big', value: bytes('small first') });
    const error = await rejectsWithCode(
      engine.put('ks', { key: 'big', value: new Uint8Array(16 * 1024) }),
      ErrorCode.INVALID_ARGUMENT,
    );
    assert.match(error.message, /exceeds keyspace "ks"/);
    assert.equal(new TextDecoder().decode((await engine.get('ks', 'big'))!.value), 'small first', 'unchanged');
    await rejectsWithCode(
      engine.put('ks', { key: 'big', value: new Uint8Array(16 * 1024) }, { ifAbsent: true }),
      ErrorCode.INVALID_ARGUMENT,
    );
    await rejectsWithCode(
      engine.putMany('ks', [
        { key: 'fits', value: bytes('v') },
        { key: 'big', value: new Uint8Array(20_000) },
      ]),
      ErrorCode.INVALID_ARGUMENT,
    );
    assert.equal(engine.stats('ks').entries, 1, 'putMany wrote nothing');
    // The largest value that fits is accepted: key, value and overhead within maxBytes.
    const largest = 16 * 1024 - ENTRY_OVERHEAD_BYTES - 'big'.length;
    assert.equal(await engine.put('ks', { key: 'big', value: new Uint8Array(largest) }), true);
    assert.equal((await engine.get('ks', 'big'))!.value.byteLength, largest);
  });

  it('refuses keys with a lone surrogate on every call that takes a key', async () => {
    for (const key of LONE_SURROGATES) {
      const calls: [string, () => unknown][] = [
        ['get', () => engine.get('ks', key)],
        ['getMany', () => engine.getMany('ks', ['fine', key])],
        ['put', () => engine.put('ks', { key, value: bytes('v') })],
        ['putMany', () => engine.putMany('ks', [{ key, value: bytes('v') }])],
        ['delete', () => engine.delete('ks', key)],
        ['deleteMany', () => engine.deleteMany('ks', ['fine', key])],
        ['owners', () => engine.owners('ks', key)],
      ];
      for (const [name, call] of calls) {
        const error = await rejectsWithCode((async () => call())(), ErrorCode.INVALID_ARGUMENT).catch(
          (failure: Error) => assert.fail(`${name}(${JSON.stringify(key)}): ${failure.message}`),
        );
        assert.match(error.message, /lone surrogate/, name);
      }
    }
    assert.ok(await engine.put('ks', { key: 'a\uD83D\uDE00b', value: bytes('emoji') }), 'a surrogate pair is fine');
  });

  it('refuses a signal that is not an AbortSignal, a non-boolean ifAbsent, and unknown option fields', async () => {
    const value = bytes('v');
    const refusals: [string, () => Promise<unknown>][] = [
      ['get signal', () => engine.get('ks', 'k', { signal: 'soon' as never })],
      ['get signal object', () => engine.get('ks', 'k', { signal: { aborted: true } as never })],
      ['get typo', () => engine.get('ks', 'k', { signl: AbortSignal.timeout(1_000) } as never)],
      ['get null options', () => engine.get('ks', 'k', null as never)],
      ['put ifAbsent', () => engine.put('ks', { key: 'k', value }, { ifAbsent: 'yes' as never })],
      ['put ifAbsent 1', () => engine.put('ks', { key: 'k', value }, { ifAbsent: 1 as never })],
      ['put unknown option', () => engine.put('ks', { key: 'k', value }, { ifabsent: true } as never)],
      ['put entry field', () => engine.put('ks', { key: 'k', value, expiresIn: 5 } as never)],
      ['put entry typo', () => engine.put('ks', { key: 'k', value, tll: 5 } as never)],
      ['putMany entry field', () => engine.putMany('ks', [{ key: 'k', value, extra: 1 } as never])],
      ['delete signal', () => engine.delete('ks', 'k', { signal: 42 as never })],
      ['getMany signal', () => engine.getMany('ks', ['k'], { signal: {} as never })],
      ['deleteMany option', () => engine.deleteMany('ks', ['k'], { force: true } as never)],
      ['deleteKeySpace option', () => engine.deleteKeySpace('ks', { signal: 'now' as never })],
      ['clearKeySpace option', () => engine.clearKeySpace('ks', { all: true } as never)],
    ];
    for (const [name, call] of refusals) {
      await rejectsWithCode(call(), ErrorCode.INVALID_ARGUMENT).catch((failure: Error) =>
        assert.fail(`${name}: ${failure.message}`),
      );
    }
    assert.deepEqual(engine.keySpaces(), ['ks'], 'nothing was deleted');
    // The shapes that are right still work, an aborted signal still rejects with ERR_ABORTED.
    assert.equal(await engine.put('ks', { key: 'k', value, ttl: 1_000 }, { ifAbsent: false }), true);
    assert.ok(await engine.get('ks', 'k', { signal: new AbortController().signal }));
    assert.ok(await engine.get('ks', 'k', {}));
    await rejectsWithCode(engine.get('ks', 'k', { signal: AbortSignal.abort() }), ErrorCode.ABORTED);
  });
});

describe("discovery providers' options", () => {
  it('refuse unknown fields (typos), as the engine refuses unknown options', () => {
    for (const make of [
      () => new StaticDiscovery({ peers: ['127.0.0.1:3322'], peer: ['x'] } as never),
      () => new DnsDiscovery({ name: 'cache.test', refreshIntervall: 1_000 } as never),
      () => new NatsDiscovery({ servers: 'nats://127.0.0.1:4222', subjct: 'x' } as never),
      () => new KubernetesDiscovery({ labelSelector: 'app=x', namespace: 'default', portname: 'disc' } as never),
    ]) {
      const error = throwsWithCode(make, ErrorCode.INVALID_CONFIG);
      assert.match(error.message, /Unrecognized key/i);
    }
  });
});
