import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { decodeSwimMessage, encodeSwimMessage, MAX_MESSAGE_BYTES } from '../../src/cluster/swim/codec.js';
import type { Rumour, SwimMessage } from '../../src/cluster/swim/messages.js';
import { ErrorCode } from '../../src/index.js';
import { throwsWithCode } from '../helpers/assert-code.js';
import { decodeWithHeapCap } from '../helpers/decode-with-heap-cap.js';

/** Cases per property: 20k in the test suite, more through FUZZ_RUNS (npm run soak). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000);
/** Heap of the child that decodes hostile input: a decoder that allocates from headers alone dies in it. */
const HEAP_MB = 64;

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

const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const u32 = (n: number): number[] => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
/** Headers that declare large containers, strings, binaries and extensions, with nothing behind them. */
const largeHeader = fc.oneof(
  fc.integer({ min: 0x81, max: 0x9f }).map((type) => [type]),
  fc.integer({ min: 1, max: 0xffff }).map((n) => [0xdc, ...u16(n)]),
  fc.integer({ min: 1, max: 0xffff }).map((n) => [0xde, ...u16(n)]),
  fc.integer({ min: 1, max: 0xffffffff }).map((n) => [0xdd, ...u32(n)]),
  fc.integer({ min: 1, max: 0xffffffff }).map((n) => [0xdf, ...u32(n)]),
  fc.integer({ min: 1, max: 0xffffffff }).map((n) => [0xdb, ...u32(n)]),
  fc.integer({ min: 1, max: 0xffffffff }).map((n) => [0xc6, ...u32(n)]),
  fc.integer({ min: 1, max: 0xffffffff }).map((n) => [0xc9, ...u32(n), 0x01]),
);
/** Runs of one large header (nesting), between random bytes, maybe behind a valid `[1, ` start. */
const hostile = fc
  .tuple(
    fc.boolean(),
    fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.tuple(largeHeader, fc.integer({ min: 1, max: 1_500 })) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }).map((bytes) => [[...bytes], 1] as const) },
      ),
      { minLength: 1, maxLength: 8 },
    ),
  )
  .map(([wrapped, runs]) =>
    Uint8Array.from([
      ...(wrapped ? [0x92, 0x01] : []),
      ...runs.flatMap(([bytes, times]) => Array(times).fill(bytes).flat()),
    ]),
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

  it('random bytes, foreign MessagePack and mutated messages give a valid message or ERR_PROTOCOL, nothing else', () => {
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
        let decoded: SwimMessage;
        try {
          decoded = decodeSwimMessage(bytes);
        } catch {
          throwsWithCode(() => decodeSwimMessage(bytes), ErrorCode.PROTOCOL);
          return;
        }
        assert.deepEqual(decodeSwimMessage(encodeSwimMessage(decoded)), decoded, 'a decoded message is well formed');
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a message past the size bound without decoding it', () => {
    const error = throwsWithCode(() => decodeSwimMessage(new Uint8Array(MAX_MESSAGE_BYTES + 1)), ErrorCode.PROTOCOL);
    assert.match(error.message, /4194305 bytes, over 4194304/);
  });

  it(`refuses ${Math.ceil(RUNS / 10)} hostile header runs in a ${HEAP_MB} MB heap, allocating nothing they declare`, async () => {
    const inputs = fc.sample(hostile, { numRuns: Math.ceil(RUNS / 10), seed: 15 });
    const outcome = await decodeWithHeapCap(inputs, HEAP_MB);
    assert.deepEqual(outcome, { crashed: false, refused: inputs.length, decoded: 0 });
  });

  it(`refuses 180 KB of nested array headers, each declaring 16,384 items, in a ${HEAP_MB} MB heap`, async () => {
    const levels = 60_000;
    const bomb = new Uint8Array(levels * 3);
    for (let i = 0; i < levels; i++) bomb.set([0xdc, 0x40, 0x00], i * 3);
    assert.deepEqual(await decodeWithHeapCap([bomb], HEAP_MB), { crashed: false, refused: 1, decoded: 0 });
  });

  it('refuses a message nested deeper than any SWIM message, and a sync whose members hold arrays', () => {
    const from = { id: 'a', address: 'a:1', incarnation: 1, meta: '' };
    const deep: unknown = [[[[[['x']]]]]];
    const error = throwsWithCode(
      () => decodeSwimMessage(encode([1, { type: 'gossip', from, rumours: deep }])),
      ErrorCode.PROTOCOL,
    );
    assert.match(error.message, /nested deeper than 4/);
    const sync = { type: 'sync', reply: false, from, rumours: [], members: [{ ...from, state: 'alive' }] };
    assert.ok(decodeSwimMessage(encode([1, sync])));
    const nested = { ...sync, members: [{ ...from, state: 'alive', meta: [['x']] }] };
    throwsWithCode(() => decodeSwimMessage(encode([1, nested])), ErrorCode.PROTOCOL);
  });

  it('refuses another wire version', () => {
    const ping: SwimMessage = {
      type: 'ping',
      seq: 1,
      target: 'b',
      from: { id: 'a', address: 'a:1', incarnation: 1, meta: '' },
      rumours: [],
    };
    assert.match(throwsWithCode(() => decodeSwimMessage(encode([2, ping])), ErrorCode.PROTOCOL).message, /version 2/);
    assert.deepEqual(decodeSwimMessage(encodeSwimMessage(ping)), ping);
  });
});
