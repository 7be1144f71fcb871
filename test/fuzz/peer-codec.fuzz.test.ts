import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PeerClient } from '../../src/cluster/peer-client.js';
import {
  MAX_PEER_FRAME_BYTES,
  MessageType,
  PeerMessageDecoder,
  encodePeerMessage,
  type PeerMessage,
  type PeerReadEntry,
} from '../../src/cluster/peer-codec.js';
import { PeerServer } from '../../src/cluster/peer-server.js';
import { DistCacheError, ErrorCode } from '../../src/index.js';
import { silentLogger } from '../helpers/engine.js';
import { answeringGets } from '../helpers/peer-handler.js';
import { split } from '../helpers/split.js';

/** Cases per property: 100k in the test suite, more through FUZZ_RUNS (npm run soak uses 1M). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const text = fc.string({ maxLength: 40 });
const bytes = fc.uint8Array({ maxLength: 300 });
const version = fc.integer({ min: 0, max: 0xffff });
const time = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 50 }));
const readEntry: fc.Arbitrary<PeerReadEntry> = fc
  .oneof(
    fc.record({ status: fc.constant('found' as const), expiresAt: time, value: bytes }),
    fc.record({ status: fc.constant('not_found' as const), expiresAt: time }),
    fc.record({ status: fc.constant('error' as const), code: text, message: text }),
    fc.constant({ status: 'skipped' as const }),
  )
  .map((entry): PeerReadEntry => ({ ...entry })); // fast-check's records have no prototype; decoded entries do
const message: fc.Arbitrary<PeerMessage> = fc.oneof(
  fc.record({
    type: fc.constant(MessageType.HELLO),
    requestId: u32,
    minVersion: version,
    maxVersion: version,
    target: text,
  }),
  fc.record({ type: fc.constant(MessageType.WELCOME), requestId: u32, version }),
  fc.record({ type: fc.constant(MessageType.GET), requestId: u32, keyspace: text, key: text }),
  fc.record({
    type: fc.constant(MessageType.PUT),
    requestId: u32,
    keyspace: text,
    key: text,
    expiresAt: time,
    ifAbsent: fc.boolean(),
    value: bytes,
  }),
  fc.record({ type: fc.constant(MessageType.DELETE), requestId: u32, keyspace: text, key: text }),
  fc.record({ type: fc.constant(MessageType.DELETE_KEYSPACE), requestId: u32, keyspace: text }),
  fc.record({ type: fc.constant(MessageType.CLEAR_KEYSPACE), requestId: u32, keyspace: text }),
  fc.record({ type: fc.constant(MessageType.INVALIDATE), requestId: u32, keyspace: text, key: text }),
  fc.record({
    type: fc.constant(MessageType.VALUE),
    requestId: u32,
    found: fc.boolean(),
    expiresAt: time,
    value: bytes,
  }),
  fc.record({
    type: fc.constant(MessageType.GET_MANY),
    requestId: u32,
    keyspace: text,
    keys: fc.array(text, { maxLength: 8 }),
  }),
  fc.record({ type: fc.constant(MessageType.VALUES), requestId: u32, entries: fc.array(readEntry, { maxLength: 8 }) }),
  fc.record({ type: fc.constant(MessageType.OK), requestId: u32, flag: fc.boolean() }),
  fc.record({ type: fc.constant(MessageType.ERROR), requestId: u32, code: text, message: text }),
  fc.record({ type: fc.constant(MessageType.GOING_AWAY), requestId: u32 }),
);

describe('fuzz: peer message decoder', () => {
  it('decodes every message it encodes, however the bytes are split, even when the reader reuses its buffer', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map((original) => encodePeerMessage(original)));
          const decoder = new PeerMessageDecoder();
          const scratch = Buffer.alloc(stream.byteLength);
          const decoded = split(stream, cuts).flatMap((part) => {
            scratch.set(part);
            const messages = decoder.push(scratch.subarray(0, part.byteLength));
            scratch.fill(0xee); // as a socket reading into one buffer does next
            return messages;
          });
          assert.deepEqual(
            decoded,
            messages.map((original) => ({ ...original })),
          );
        },
      ),
      { numRuns: Math.min(RUNS, 20_000) },
    );
  });

  it('answers random and mutated bytes with messages or ERR_PROTOCOL, never another error', () => {
    const mutated = fc
      .tuple(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([original, flips]) => {
        const frame = Buffer.from(encodePeerMessage(original));
        for (const [at, value] of flips) frame[at % frame.byteLength] = value;
        return new Uint8Array(frame);
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated),
        fc.array(fc.nat(), { maxLength: 4 }),
        (input, cuts) => {
          const decoder = new PeerMessageDecoder();
          try {
            for (const part of split(input, cuts)) decoder.push(part);
          } catch (error) {
            assert.ok(error instanceof DistCacheError && error.code === ErrorCode.PROTOCOL, String(error));
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses an oversized length as soon as its four bytes arrive', () => {
    const decoder = new PeerMessageDecoder();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_PEER_FRAME_BYTES + 1);
    assert.throws(
      () => decoder.push(header),
      (error: unknown) => error instanceof DistCacheError && error.code === ErrorCode.PROTOCOL,
    );
  });
});

describe('fuzz: a live peer server', () => {
  it('closes connections that send garbage and keeps serving the others', async () => {
    const handler = answeringGets(async () => ({ bytes: new Uint8Array([1, 2, 3]), expiresAt: 0 }));
    const server = new PeerServer(handler, { kind: 'none' }, silentLogger);
    await server.listen('127.0.27.2', 0 + 3320);
    const client = new PeerClient('127.0.27.2:3320', { kind: 'none' });
    try {
      const garbage = fc.sample(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 200 }),
          message.map((m) => new Uint8Array(encodePeerMessage(m))),
        ),
        300,
      );
      for (const payload of garbage) {
        await new Promise<void>((resolve) => {
          const socket = net.connect({ host: '127.0.27.2', port: 3320 }, () => socket.end(payload));
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
          socket.resume();
        });
      }
      const reply = await client.request({ type: MessageType.GET, keyspace: 'ks', key: 'k' }, 2_000);
      assert.equal(reply.type, MessageType.VALUE);

      // Before the handshake a stranger may not announce a large frame: closed at its length, nothing buffered.
      const closedAfter = await new Promise<number>((resolve) => {
        const socket = net.connect({ host: '127.0.27.2', port: 3320 }, () => {
          const header = Buffer.alloc(4);
          header.writeUInt32BE(1024 * 1024);
          socket.write(header);
        });
        const started = Date.now();
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(Date.now() - started));
        socket.resume();
      });
      assert.ok(closedAfter < 1_000, `closed after ${closedAfter} ms`);
    } finally {
      client.close();
      await server.close(100);
    }
  });
});
