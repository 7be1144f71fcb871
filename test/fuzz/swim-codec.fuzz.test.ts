import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { decodeSwimMessage, encodeSwimMessage, MAX_MESSAGE_BYTES } from '../../src/cluster/swim/codec.js';
import type { Rumour, SwimMessage } from '../../src/cluster/swim/messages.js';

/** Cases per property: 20k in the test suite, more through FUZZ_RUNS (npm run soak). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000);

const name = fc.string({ minLength: 1, maxLength: 40 });
const count = fc.nat({ max: Number.MAX_SAFE_INTEGER });
/** Plain objects, as the decoder returns. */
const plain = { noNullPrototype: true };
const identity = fc.record({ id: name, address: name, incarnation: count, meta: fc.string({ maxLength: 32 }) }, plain);
const rumour: fc.Arbitrary<Rumour> = fc.oneof(
  identity.map((who) => ({ type: 'alive' as const, ...who })),
  fc.record(
    { type: fc.constantFrom('suspect' as const, 'dead' as const), id: name, incarnation: count, from: name },
    plain,
  ),
);
const envelope = { from: identity, rumours: fc.array(rumour, { maxLength: 10 }) };
const message: fc.Arbitrary<SwimMessage> = fc.oneof(
  fc.record({ type: fc.constant('ping' as const), seq: count, target: name, ...envelope }, plain),
  fc.record({ type: fc.constantFrom('ack' as const, 'nack' as const), seq: count, ...envelope }, plain),
  fc.record(
    { type: fc.constant('ping-req' as const), seq: count, target: name, targetAddress: name, ...envelope },
    plain,
  ),
  fc.record({ type: fc.constant('gossip' as const), ...envelope }, plain),
  fc.record(
    {
      type: fc.constant('sync' as const),
      reply: fc.boolean(),
      members: fc.array(
        identity.chain((who) =>
          fc.constantFrom('alive' as const, 'suspect' as const, 'dead' as const, 'left' as const).map((state) => ({
            ...who,
            state,
          })),
        ),
        { maxLength: 20 },
      ),
      ...envelope,
    },
    plain,
  ),
);

describe('fuzz: SWIM message codec', () => {
  it('decodes every message it encodes', () => {
    fc.assert(
      fc.property(message, (original) => {
        assert.deepEqual(decodeSwimMessage(encodeSwimMessage(original)), original);
      }),
      { numRuns: RUNS },
    );
  });

  it('random bytes, foreign MessagePack and mutated messages give undefined or a valid message, never a throw', () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.anything().map((value) => encode([1, value])),
      fc.tuple(message, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([original, at, byte]) => {
        const bytes = encodeSwimMessage(original);
        bytes[at % bytes.length] = byte;
        return bytes;
      }),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        const decoded = decodeSwimMessage(bytes);
        if (decoded === undefined) return;
        assert.deepEqual(decodeSwimMessage(encodeSwimMessage(decoded)), decoded, 'a decoded message is well formed');
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a message past the size bound without decoding it', () => {
    assert.equal(decodeSwimMessage(new Uint8Array(MAX_MESSAGE_BYTES + 1)), undefined);
  });

  it('refuses another wire version', () => {
    const ping: SwimMessage = {
      type: 'ping',
      seq: 1,
      target: 'b',
      from: { id: 'a', address: 'a:1', incarnation: 1, meta: '' },
      rumours: [],
    };
    assert.equal(decodeSwimMessage(encode([2, ping])), undefined);
    assert.deepEqual(decodeSwimMessage(encodeSwimMessage(ping)), ping);
  });
});
