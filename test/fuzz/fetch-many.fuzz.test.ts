import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DistCacheError, ErrorCode, type DataSource, type Engine } from '../../src/index.js';
import { bytes, startEngine, text } from '../helpers/engine.js';

/** Cases per property: a few hundred in the test suite (each starts an engine), more through FUZZ_RUNS. */
const RUNS = Math.min(Number(process.env.FUZZ_RUNS ?? 300), 5_000);
const READ_TIMEOUT_MS = 30;
/** Far beyond readTimeout: a caller still waiting then is a hang. */
const HANG_MS = 2_000;

const good = (key: string): Uint8Array => bytes(`v:${key}`);

/** A value a keyspace without a codec cannot store: anything but bytes, undefined or null. */
const wrongValue = fc
  .oneof(fc.anything(), fc.date(), fc.bigInt(), fc.func(fc.anything()))
  .filter((value) => !(value instanceof Uint8Array) && value !== undefined && value !== null);

/** One key's value in an otherwise well-formed answer. */
const slot = fc.oneof(
  fc.constant<{ kind: 'value' }>({ kind: 'value' }),
  fc.constant<{ kind: 'absent' }>({ kind: 'absent' }),
  fc.record({ kind: fc.constant('wrong' as const), value: wrongValue }),
);

/**
 * How fetchMany answers a batch of keys. `failsBatch` kinds must fail every
 * caller of the batch; `slots` answers fail only the keys given a wrong value.
 */
const answer = fc.oneof(
  fc.record({ kind: fc.constant('wrong-length' as const), delta: fc.integer({ min: -3, max: 3 }).filter(Boolean) }),
  fc.record({ kind: fc.constant('extra-key' as const), extra: fc.string({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    kind: fc.constant('non-string-keys' as const),
    key: fc.oneof(fc.integer(), fc.constant(null), fc.object()),
  }),
  fc.record({ kind: fc.constant('throws' as const), error: fc.anything(), synchronously: fc.boolean() }),
  fc.constant({ kind: 'never-resolves' as const }),
  fc
    .record({ kind: fc.constant('not-a-container' as const), value: fc.anything() })
    .filter(({ value }) => !Array.isArray(value) && !(value instanceof Map)),
  fc.record({
    kind: fc.constant('slots' as const),
    container: fc.constantFrom('map' as const, 'array' as const),
    slots: fc.array(slot, { minLength: 1, maxLength: 12 }),
  }),
);
type Answer = typeof answer extends fc.Arbitrary<infer A> ? A : never;
type Slot = typeof slot extends fc.Arbitrary<infer S> ? S : never;

/** The slot of the key at `index` of a batch (the slots repeat over a longer batch). */
const slotOf = (answer: Extract<Answer, { kind: 'slots' }>, index: number): Slot =>
  answer.slots[index % answer.slots.length]!;

/** The answer itself, for the keys of one batch. */
function respond(answer: Answer, keys: readonly string[]): unknown {
  switch (answer.kind) {
    case 'wrong-length':
      return Array.from({ length: Math.max(0, keys.length + answer.delta) }, (_, i) => good(keys[i] ?? 'x'));
    case 'extra-key': {
      let extra = answer.extra;
      while (keys.includes(extra)) extra += '#';
      return new Map([...keys.map((key) => [key, good(key)] as const), [extra, good('x')]]);
    }
    case 'non-string-keys':
      return new Map<unknown, Uint8Array>([[answer.key, good('x')], ...keys.map((key) => [key, good(key)] as const)]);
    case 'throws':
      if (answer.synchronously) throw answer.error;
      return Promise.reject(answer.error);
    case 'never-resolves':
      return new Promise(() => {});
    case 'not-a-container':
      return answer.value;
    case 'slots': {
      const values = keys.map((key, i) => {
        const slot = slotOf(answer, i);
        return slot.kind === 'value' ? good(key) : slot.kind === 'wrong' ? slot.value : undefined;
      });
      return answer.container === 'array' ? values : new Map(keys.map((key, i) => [key, values[i]]));
    }
  }
}

/** What each caller must get: a value, "not found", or an error with this code. */
function expected(answer: Answer, index: number): { value: true } | { value: false } | { code: ErrorCode } {
  if (answer.kind === 'never-resolves') return { code: ErrorCode.TIMEOUT };
  if (answer.kind !== 'slots') return { code: ErrorCode.DATASOURCE_FAILED };
  const slot = slotOf(answer, index);
  return slot.kind === 'wrong' ? { code: ErrorCode.DATASOURCE_FAILED } : { value: slot.kind === 'value' };
}

/** Settles every get, failing when one is still waiting long after readTimeout. */
async function settleAll(reads: Promise<unknown>[]): Promise<PromiseSettledResult<unknown>[]> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`a get still waits ${HANG_MS} ms after the batch`)), HANG_MS);
  });
  try {
    return await Promise.race([Promise.allSettled(reads), hang]);
  } finally {
    clearTimeout(timer);
  }
}

describe('fuzz: fetchMany answers', () => {
  it('every caller gets its value or a clear typed error, never a hang, and the store holds only good values', async () => {
    await fc.assert(
      fc.asyncProperty(
        answer,
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 24 }),
        fc.integer({ min: 2, max: 8 }),
        async (fuzzed, keys, maxBatch) => {
          let fuzzing = true;
          const engine: Engine = await startEngine({
            maxBatch,
            readTimeout: READ_TIMEOUT_MS,
            dataSource: {
              fetch: (key: string) => good(key),
              fetchMany: (asked: readonly string[]) =>
                fuzzing ? respond(fuzzed, asked) : new Map(asked.map((key) => [key, good(key)])),
            } as DataSource,
          });
          try {
            // In the same tick: the keys go out in batches of maxBatch, the last key of an odd
            // batch alone to fetch (which answers well); index within its batch decides its slot.
            const outcomes = await settleAll(keys.map((key) => engine.get('ks', key)));
            const stored: string[] = [];
            for (const [i, outcome] of outcomes.entries()) {
              const key = keys[i]!;
              const inBatch = i % maxBatch;
              const alone = inBatch === 0 && i === keys.length - 1;
              const want = alone ? { value: true } : expected(fuzzed, inBatch);
              if ('code' in want) {
                assert.equal(outcome.status, 'rejected', `key ${key}: expected ${want.code}`);
                const error = (outcome as PromiseRejectedResult).reason as unknown;
                assert.ok(error instanceof DistCacheError, `key ${key}: untyped ${String(error)}`);
                assert.equal(error.code, want.code, error.message);
                assert.match(error.message, /keyspace "ks"/);
              } else {
                assert.equal(
                  outcome.status,
                  'fulfilled',
                  `key ${key}: ${String((outcome as PromiseRejectedResult).reason)}`,
                );
                const result = (outcome as PromiseFulfilledResult<{ value: Uint8Array } | undefined>).value;
                assert.equal(text(result?.value), want.value ? `v:${key}` : undefined);
                if (want.value) stored.push(key);
              }
            }
            // The store holds exactly the good values; every other key loads anew, correctly.
            assert.equal(engine.stats('ks').entries, stored.length);
            fuzzing = false;
            const again = await engine.getMany('ks', keys);
            assert.deepEqual(
              again.map((result) => text(result?.value)),
              keys.map((key) => `v:${key}`),
            );
            assert.equal(engine.stats('ks').hits, stored.length, 'good values were served from the store');
          } finally {
            await engine.stop();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
