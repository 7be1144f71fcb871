import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DcMessageDecoder,
  DcProtocolError,
  encodeMessage,
  MAX_MESSAGE_BYTES,
  type DcMessage,
} from '../../src/protocol/codec.js';
import { split } from '../helpers/split.js';

/** Cases per property: 100k in the test suite, more through FUZZ_RUNS (npm run soak uses 1M). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);

const message: fc.Arbitrary<DcMessage> = fc.record({
  isResponse: fc.boolean(),
  requestUid: fc.integer({ min: 0, max: 0xffffffff }),
  operation: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
  data: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.integer({ min: 0, max: MAX_MESSAGE_BYTES }).map((size) => new Uint8Array(size).fill(size & 0xff)),
  ),
});

/** Each property runs with data copied and with views into the chunks (as the session listener decodes). */
describe('fuzz: distcache protocol decoder', () => {
  it('reassembles every message it encodes, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.boolean(),
        (messages, cuts, views) => {
          const stream = Buffer.concat(messages.map((each) => encodeMessage(each)));
          const decoder = new DcMessageDecoder({ views });
          const decoded = split(stream, cuts).flatMap((part) => decoder.push(part));
          assert.deepEqual(
            decoded.map((each) => ({ ...each, data: Buffer.from(each.data) })),
            messages.map((each) => ({ ...each, data: Buffer.from(each.data) })),
          );
        },
      ),
      { numRuns: Math.min(RUNS, 5_000) },
    );
  });

  it('answers random and mutated bytes with messages or a DcProtocolError, never another error', () => {
    const small = fc.record({
      isResponse: fc.boolean(),
      requestUid: fc.nat(),
      operation: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
      data: fc.uint8Array({ maxLength: 3_000 }),
    });
    const mutated = fc
      .tuple(small, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([original, flips]) => {
        const bytes = Buffer.from(encodeMessage(original));
        for (const [at, value] of flips) bytes[at % bytes.byteLength] = value;
        return new Uint8Array(bytes);
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.boolean(),
        (input, cuts, views) => {
          const decoder = new DcMessageDecoder({ views });
          try {
            for (const part of split(input, cuts))
              for (const decoded of decoder.push(part)) assert.ok(decoded.data.byteLength <= MAX_MESSAGE_BYTES);
          } catch (error) {
            assert.ok(error instanceof DcProtocolError, String(error));
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('decodes the same messages and refuses with the same error whether bytes come whole or in pieces shorter than a header', () => {
    // Whole, a one-frame message takes the decoder's fast path; in pieces of 13 bytes no header is ever whole in
    // one piece, so every header field is checked byte by byte as it arrives. Data up to just over one frame.
    const valid = fc
      .record({
        isResponse: fc.boolean(),
        requestUid: fc.integer({ min: 0, max: 0xffffffff }),
        operation: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
        data: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 2040, maxLength: 2060 })),
      })
      .map((each) => new Uint8Array(encodeMessage(each)));
    const mutated = fc
      .tuple(
        fc.array(valid, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 3 }),
      )
      .map(([messages, flips]) => {
        const bytes = Buffer.concat(messages);
        for (const [at, value] of flips) bytes[at % bytes.byteLength] = value;
        return bytes;
      });
    /** The messages decoded (data as arrays), or the error that refused the input (a push that throws returns nothing). */
    const outcome = (parts: Uint8Array[]) => {
      const decoder = new DcMessageDecoder();
      const messages: unknown[] = [];
      try {
        for (const part of parts)
          for (const each of decoder.push(part)) messages.push({ ...each, data: [...each.data] });
        return { messages };
      } catch (error) {
        return { error: (error as DcProtocolError).message, fault: (error as DcProtocolError).fault };
      }
    };
    fc.assert(
      fc.property(mutated, (input) => {
        const pieces = Array.from({ length: Math.ceil(input.byteLength / 13) }, (_, i) =>
          input.subarray(i * 13, (i + 1) * 13),
        );
        assert.deepEqual(outcome([input]), outcome(pieces));
      }),
      { numRuns: Math.min(RUNS, 10_000) },
    );
  });
});
