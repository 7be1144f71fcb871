import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HybridLogicalClock, isVersion, versionTime } from '../../src/lib/hybrid-logical-clock.js';

/** A wall clock the test moves by hand. */
function manualClock(start: number): { now: () => number; set(ms: number): void } {
  let ms = start;
  return { now: () => ms, set: (next) => (ms = next) };
}

describe('HybridLogicalClock', () => {
  it('issues strictly increasing versions, also within one millisecond and when the wall clock goes back', () => {
    const wall = manualClock(1_700_000_000_000);
    const clock = new HybridLogicalClock(wall.now);
    const versions: number[] = [];
    for (let i = 0; i < 3_000; i++) versions.push(clock.next()); // 3,000 in one ms: the counter carries into the ms part
    wall.set(1_700_000_000_000 - 5_000); // NTP stepped the clock back 5 s
    for (let i = 0; i < 10; i++) versions.push(clock.next());
    for (let i = 1; i < versions.length; i++) assert.ok(versions[i]! > versions[i - 1]!, `version ${i} grows`);
    assert.ok(versions.every(isVersion));
  });

  it('follows the wall clock: a version records the millisecond it was stamped at', () => {
    const wall = manualClock(1_700_000_000_000);
    const clock = new HybridLogicalClock(wall.now);
    assert.equal(versionTime(clock.next()), 1_700_000_000_000);
    wall.set(1_700_000_000_123);
    assert.equal(versionTime(clock.next()), 1_700_000_000_123);
  });

  it('after observing a version from a node whose clock is ahead, stamps only greater ones', () => {
    const wall = manualClock(1_700_000_000_000);
    const behind = new HybridLogicalClock(wall.now);
    const ahead = new HybridLogicalClock(() => wall.now() + 2_000);
    const theirs = ahead.next();
    assert.ok(behind.next() < theirs, 'unrelated: the lagging clock stamps lower');
    behind.observe(theirs);
    assert.ok(behind.next() > theirs, 'after receiving it, every new version is above');
    assert.ok(behind.next(theirs + 10) > theirs + 10, 'next(atLeast) is above the writer stamp it is given');
  });

  it('does not follow a version claiming a time beyond the drift bound', () => {
    const wall = manualClock(1_700_000_000_000);
    const clock = new HybridLogicalClock(wall.now, 60_000);
    const bogus = (1_700_000_000_000 + 3_600_000) * 1024;
    clock.observe(bogus);
    assert.ok(clock.next() < bogus, 'a clock an hour ahead does not drag this one');
  });

  it('never issues a version at or below one it observed (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: -50, max: 50 }) }),
            fc.record({ kind: fc.constant('observe' as const), ahead: fc.integer({ min: -5_000, max: 50_000 }) }),
            fc.record({ kind: fc.constant('next' as const) }),
          ),
          { maxLength: 200 },
        ),
        (steps) => {
          const wall = manualClock(1_700_000_000_000);
          const clock = new HybridLogicalClock(wall.now);
          let highest = 0;
          for (const step of steps) {
            if (step.kind === 'tick') wall.set(wall.now() + step.ms);
            else if (step.kind === 'observe') {
              const version = (wall.now() + step.ahead) * 1024;
              clock.observe(version);
              highest = Math.max(highest, version);
            } else {
              const version = clock.next();
              assert.ok(version > highest);
              highest = version;
            }
          }
        },
      ),
    );
  });
});
