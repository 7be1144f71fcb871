import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeAnnouncement, encodeAnnouncement, type Announcement } from '../../discovery/nats.js';
import { isDiscoveryAddress } from '../../src/discovery.js';

/** Cases per property: 100k in the test suite, more through FUZZ_RUNS (npm run soak uses 1M). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);

const address = fc.oneof(
  fc
    .tuple(
      fc.ipV4().filter((ip) => ip !== '0.0.0.0'),
      fc.integer({ min: 1, max: 65_535 }),
    )
    .map(([ip, port]) => `${ip}:${port}`),
  fc.tuple(fc.domain(), fc.integer({ min: 1, max: 65_535 })).map(([host, port]) => `${host}:${port}`),
);
const announcement: fc.Arbitrary<Announcement> = fc.record({
  type: fc.constantFrom('join', 'alive', 'leave'),
  address,
});
const encoder = new TextEncoder();

describe('fuzz: NATS announcement decoder', () => {
  it('decodes every announcement it encodes', () => {
    fc.assert(
      fc.property(announcement, (original) => {
        assert.deepEqual(decodeAnnouncement(encodeAnnouncement(original)), { ...original });
      }),
      { numRuns: RUNS },
    );
  });

  it('random bytes, random JSON and mutated announcements give undefined or a valid announcement, never a throw', () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 700 }),
      fc.json({ maxDepth: 3 }).map((json) => encoder.encode(json)),
      fc
        .record({
          distcache: fc.oneof(fc.constant(1), fc.anything()),
          type: fc.oneof(fc.constantFrom('join', 'alive', 'leave'), fc.string()),
          address: fc.oneof(address, fc.string(), fc.anything()),
        })
        .map((object) => encoder.encode(JSON.stringify(object) ?? '')),
      fc.tuple(announcement, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([original, at, byte]) => {
        const bytes = encodeAnnouncement(original);
        bytes[at % bytes.length] = byte;
        return bytes;
      }),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        const decoded = decodeAnnouncement(bytes);
        if (decoded === undefined) return;
        assert.ok(['join', 'alive', 'leave'].includes(decoded.type));
        assert.ok(isDiscoveryAddress(decoded.address), decoded.address);
        assert.deepEqual(Object.keys(decoded).sort(), ['address', 'type']);
      }),
      { numRuns: RUNS },
    );
  });
});
