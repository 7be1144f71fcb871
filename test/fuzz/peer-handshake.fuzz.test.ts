import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MessageType, PeerMessageDecoder, encodePeerMessage, type PeerMessage } from '../../src/cluster/peer-codec.js';
import {
  ClientHandshake,
  HANDSHAKE_FRAME_BYTES,
  ServerHandshake,
  highestCommonVersion,
  type HandshakeVerdict,
  type VersionRange,
} from '../../src/cluster/peer-handshake.js';
import { DistCacheError, ErrorCode } from '../../src/index.js';
import { split } from '../helpers/split.js';

/** Cases per property: 100k in the test suite, more through FUZZ_RUNS (npm run soak uses 1M). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);

const SELF = '10.1.2.3:3320';
const version = fc.integer({ min: 0, max: 0xffff });
const smallVersion = fc.integer({ min: 0, max: 6 });
const range = (v: fc.Arbitrary<number>): fc.Arbitrary<VersionRange> =>
  fc.tuple(v, v).map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) }));
const anyRange = fc.oneof(range(smallVersion), range(version));
const target = fc.oneof(fc.constant(SELF), fc.string({ maxLength: 40 }), fc.constant('10.1.2.3:3321'));

const hello = fc.record({
  type: fc.constant(MessageType.HELLO),
  requestId: fc.nat(),
  minVersion: fc.oneof(smallVersion, version),
  maxVersion: fc.oneof(smallVersion, version),
  target,
});
const welcome = fc.record({ type: fc.constant(MessageType.WELCOME), requestId: fc.nat(), version });
const refusal = fc.record({
  type: fc.constant(MessageType.ERROR),
  requestId: fc.nat(),
  code: fc.string({ maxLength: 20 }),
  message: fc.string({ maxLength: 40 }),
});
const request = fc.record({
  type: fc.constant(MessageType.GET),
  requestId: fc.nat(),
  keyspace: fc.string({ maxLength: 10 }),
  key: fc.string({ maxLength: 10 }),
});

/** A connection's first bytes: random, or a handshake message with bytes changed. */
function firstBytes(messages: fc.Arbitrary<PeerMessage>): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .tuple(messages, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
    .map(([message, flips]) => {
      const frame = Buffer.from(encodePeerMessage(message));
      for (const [at, value] of flips) frame[at % frame.byteLength] = value;
      return new Uint8Array(frame);
    });
  return fc.oneof(fc.uint8Array({ maxLength: 80 }), mutated);
}

/**
 * Feeds bytes through a decoder limited as a server's is before the handshake: the first
 * message, or undefined when there is none or the decoder refused the bytes, which it
 * must do with ERR_PROTOCOL and nothing else.
 */
function firstMessage(input: Uint8Array, cuts: number[]): PeerMessage | undefined {
  const decoder = new PeerMessageDecoder();
  decoder.maxFrameBytes = HANDSHAKE_FRAME_BYTES;
  try {
    for (const part of split(input, cuts)) {
      const [message] = decoder.push(part);
      if (message !== undefined) return message;
    }
  } catch (error) {
    assert.ok(error instanceof DistCacheError && error.code === ErrorCode.PROTOCOL, String(error));
  }
  return undefined;
}

describe('fuzz: peer handshake', () => {
  it('two nodes agree on the highest common version, or both refuse', () => {
    fc.assert(
      fc.property(anyRange, anyRange, target, (clientRange, serverRange, dialed) => {
        const client = new ClientHandshake(clientRange, dialed);
        const server = new ServerHandshake(serverRange, SELF);
        const [first] = new PeerMessageDecoder().push(encodePeerMessage(client.hello()));
        const { reply, verdict } = server.receive(first!);
        const [answer] = new PeerMessageDecoder().push(encodePeerMessage(reply));
        const clientVerdict = client.receive(answer!);
        const expected = dialed === SELF ? highestCommonVersion(clientRange, serverRange) : undefined;
        const expectedVerdict: HandshakeVerdict['accepted'] = expected !== undefined;
        assert.equal(verdict.accepted, expectedVerdict);
        assert.equal(clientVerdict.accepted, expectedVerdict);
        if (verdict.accepted && clientVerdict.accepted) {
          assert.equal(verdict.version, expected);
          assert.equal(clientVerdict.version, expected);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('a server answers any first bytes with ERR_PROTOCOL or a verdict, and accepts only a HELLO meant for it in range', () => {
    const ours = { min: 1, max: 2 };
    fc.assert(
      fc.property(firstBytes(fc.oneof(hello, request)), fc.array(fc.nat(), { maxLength: 4 }), (input, cuts) => {
        const message = firstMessage(input, cuts);
        if (message === undefined) return;
        const { reply, verdict } = new ServerHandshake(ours, SELF).receive(message);
        if (!verdict.accepted) {
          assert.equal(reply.type, MessageType.ERROR);
          return;
        }
        assert.equal(message.type, MessageType.HELLO);
        if (message.type !== MessageType.HELLO) return;
        assert.equal(message.target, SELF);
        assert.ok(message.minVersion <= verdict.version && verdict.version <= message.maxVersion);
        assert.ok(ours.min <= verdict.version && verdict.version <= ours.max);
        assert.deepEqual(reply, { type: MessageType.WELCOME, requestId: 0, version: verdict.version });
      }),
      { numRuns: RUNS },
    );
  });

  it('a client accepts only a WELCOME with a version of its range, whatever the server sends', () => {
    const ours = { min: 1, max: 2 };
    fc.assert(
      fc.property(
        firstBytes(fc.oneof(welcome, refusal, request)),
        fc.array(fc.nat(), { maxLength: 4 }),
        (input, cuts) => {
          const message = firstMessage(input, cuts);
          if (message === undefined) return;
          const verdict = new ClientHandshake(ours, SELF).receive(message);
          if (!verdict.accepted) return;
          assert.equal(message.type, MessageType.WELCOME);
          assert.ok(ours.min <= verdict.version && verdict.version <= ours.max);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
