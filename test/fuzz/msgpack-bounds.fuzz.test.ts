import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { msgpackBoundsViolation } from '../../src/lib/msgpack-bounds.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000);

/** How deep arrays and maps that hold items nest in `value` (a scalar or an empty container: 0). */
function depthOf(value: unknown): number {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return 0;
  const items = Array.isArray(value) ? value : Object.values(value);
  if (items.length === 0) return 0;
  return 1 + items.reduce<number>((deepest, item) => Math.max(deepest, depthOf(item)), 0);
}

function decodes(bytes: Uint8Array): boolean {
  try {
    decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** `levels` array-16 headers, each declaring 16,384 items: three bytes each. */
function nestedArrayHeaders(levels: number): Uint8Array {
  const bytes = new Uint8Array(levels * 3);
  for (let i = 0; i < levels; i++) bytes.set([0xdc, 0x40, 0x00], i * 3);
  return bytes;
}

/** Whether `bytes` pass the check. */
const within = (bytes: Uint8Array, maxDepth: number): boolean => msgpackBoundsViolation(bytes, maxDepth) === undefined;

describe('fuzz: MessagePack bounds check', () => {
  it('accepts what the encoder writes exactly when it nests no deeper than allowed', () => {
    const value = fc.anything({
      maxDepth: 5,
      withTypedArray: false,
      withBigInt: false,
      withMap: false,
      withSet: false,
    });
    fc.assert(
      fc.property(value, (original) => {
        const bytes = encode(original);
        const depth = depthOf(original);
        assert.equal(msgpackBoundsViolation(bytes, depth), undefined);
        if (depth > 0) assert.match(msgpackBoundsViolation(bytes, depth - 1)!, /nested deeper/);
        if (bytes.byteLength > 1) assert.equal(within(bytes.subarray(0, -1), 99), false, 'cut short');
        assert.match(msgpackBoundsViolation(Uint8Array.of(...bytes, 0xc0), 99)!, /1 bytes after the value/);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws on random bytes, and accepts whatever the decoder reads in full', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const accepted = within(bytes, 64);
        if (decodes(bytes)) assert.equal(accepted, true);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses headers that declare more items than bytes follow, before anything is allocated', () => {
    assert.equal(
      msgpackBoundsViolation(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), 4),
      'a container of 4294967295 items with 0 bytes left',
    );
    assert.equal(
      msgpackBoundsViolation(Uint8Array.of(0xdf, 0x00, 0x00, 0x00, 0x01, 0xc0), 4),
      'a container of 2 items with 1 bytes left',
    );
    assert.equal(
      msgpackBoundsViolation(nestedArrayHeaders(1_000), 1_000_000),
      'a container of 16384 items with 2997 bytes left',
    );
    assert.equal(
      msgpackBoundsViolation(Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61), 4),
      'a value of 4294967300 bytes with 6 left',
    );
    assert.match(msgpackBoundsViolation(Uint8Array.of(0xc1), 4)!, /0xc1 at byte 0/);
  });
});
