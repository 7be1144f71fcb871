import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { frame, FrameReader } from '../../src/cluster/swim/frames.js';
import { ErrorCode } from '../../src/index.js';
import { throwsWithCode } from '../helpers/assert-code.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000);

/** `bytes` cut at `cuts` (positions taken modulo its length). */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((cut) => cut % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  return [0, ...at].map((start, i) => bytes.subarray(start, [...at, bytes.byteLength][i]));
}

describe('fuzz: SWIM frame reader', () => {
  it('gives back the frames that were written, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, cuts) => {
          const reader = new FrameReader(300);
          const stream = Buffer.concat(payloads.map(frame));
          const read = chunked(stream, cuts).flatMap((chunk) => reader.push(chunk));
          assert.deepEqual(
            read.map((payload) => [...payload]),
            payloads.map((payload) => [...payload]),
          );
          assert.equal(reader.buffered, 0);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('holds at most twice what it received of a frame, whatever its header declares', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 24 }), fc.nat({ max: 200_000 }), (declared, sent) => {
        const reader = new FrameReader(2 ** 24);
        const header = frame(new Uint8Array(0));
        new DataView(header.buffer).setUint32(0, declared);
        reader.push(header);
        const received = Math.min(sent, declared - 1);
        reader.push(new Uint8Array(received));
        assert.ok(reader.buffered <= Math.max(64 * 1024, 2 * received), `${reader.buffered} held for ${received}`);
      }),
      { numRuns: RUNS / 10 },
    );
  });

  it('refuses a header over the bound with ERR_PROTOCOL', () => {
    const header = frame(new Uint8Array(0));
    new DataView(header.buffer).setUint32(0, 301);
    const error = throwsWithCode(() => new FrameReader(300).push(header), ErrorCode.PROTOCOL);
    assert.match(error.message, /301 bytes, over 300/);
  });
});
