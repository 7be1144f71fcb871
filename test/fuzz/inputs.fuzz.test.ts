import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DistCacheError, Engine, ErrorCode, type EngineOptions } from '../../src/index.js';
import { bytes, silentLogger, startEngine, text } from '../helpers/engine.js';

/** Runs fn; passes when it returns or throws a DistCacheError of one of `codes`. */
function onlyTypedErrors(fn: () => unknown, codes: ErrorCode[]): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof DistCacheError, `untyped error: ${String(error)}`);
    assert.ok(codes.includes(error.code), `unexpected code ${error.code}: ${error.message}`);
  }
}

const anyValue = fc.oneof(
  fc.anything(),
  fc.uint8Array(),
  fc.date(),
  fc.func(fc.anything()),
  fc.constant(Number.NaN),
  fc.bigInt(),
);

describe('fuzz: inputs from the application', () => {
  it('any engine options either build an engine or throw ERR_INVALID_CONFIG', () => {
    const keyspaceLike = fc.record(
      {
        name: fc.oneof(fc.string(), anyValue),
        maxBytes: fc.oneof(fc.integer(), anyValue),
        defaultTtl: anyValue,
        readTimeout: fc.oneof(fc.integer(), anyValue),
        rateLimit: fc.oneof(
          fc.record({ requestsPerSecond: fc.double(), burst: anyValue, waitTimeout: anyValue }, { requiredKeys: [] }),
          anyValue,
        ),
        circuitBreaker: fc.oneof(
          fc.record({ failureThreshold: fc.integer(), resetTimeout: anyValue }, { requiredKeys: [] }),
          anyValue,
        ),
        staleIfError: anyValue,
        negativeTtl: anyValue,
        maxBatch: fc.oneof(fc.integer(), anyValue),
        refreshAhead: fc.oneof(fc.double(), anyValue),
        staleWhileRevalidate: fc.oneof(fc.integer(), anyValue),
        ttlJitter: fc.oneof(fc.double(), anyValue),
        codec: anyValue,
        dataSource: anyValue,
      },
      { requiredKeys: [] },
    );
    const options = fc.oneof(
      anyValue,
      fc.record(
        {
          keyspaces: fc.oneof(fc.array(keyspaceLike, { maxLength: 3 }), anyValue),
          logger: fc.constant(silentLogger),
          readTimeout: anyValue,
          defaultTtl: anyValue,
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(options, (candidate) =>
        onlyTypedErrors(() => new Engine(candidate as EngineOptions), [ErrorCode.INVALID_CONFIG]),
      ),
      { numRuns: 20_000 },
    );
  });

  it('any put entry or key is stored, or refused with ERR_INVALID_ARGUMENT; the store stays within bounds and readable', async () => {
    const engine = await startEngine({ maxBytes: 64 * 1024 });
    await engine.put('ks', { key: 'anchor', value: bytes('safe'), ttl: 0 });
    const entry = fc.oneof(
      anyValue,
      fc.record(
        {
          key: fc.oneof(fc.string(), anyValue),
          value: fc.oneof(fc.uint8Array({ maxLength: 4096 }), anyValue),
          ttl: anyValue,
          expiresAt: anyValue,
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(entry, fc.oneof(fc.string(), anyValue), async (candidate, key) => {
        for (const call of [
          () => engine.put('ks', candidate as never),
          () => engine.get('ks', key as string),
          () => engine.delete('ks', key as string),
        ]) {
          await call().catch((error: unknown) => {
            assert.ok(error instanceof DistCacheError, `untyped error: ${String(error)}`);
            assert.equal(error.code, ErrorCode.INVALID_ARGUMENT, error.message);
          });
        }
        const stats = engine.stats('ks');
        assert.ok(stats.bytes <= stats.maxBytes);
      }),
      { numRuns: 20_000 },
    );
    const anchor = await engine.get('ks', 'anchor');
    assert.ok(anchor === undefined || text(anchor.value) === 'safe', 'a stored value is never changed by other writes');
    await engine.stop();
  });
});
