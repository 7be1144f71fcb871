import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdleSweep } from '../../src/net/idle-sweep.js';
import { sleep } from '../helpers/engine.js';

const IDLE_MS = 100;

/** A watched connection: its activity count, and when (performance.now()) it was closed. */
function connection() {
  return {
    activity: 0,
    closedAt: undefined as number | undefined,
    close() {
      this.closedAt = performance.now();
    },
  };
}

describe('IdleSweep: one timer closes the connections that stood still for the idle time', () => {
  it('closes a quiet connection no sooner than the idle time, and not much later', async () => {
    const sweep = new IdleSweep(IDLE_MS);
    const quiet = connection();
    const since = performance.now();
    sweep.watch(quiet);
    await sleep(IDLE_MS * 3);
    sweep.stop();
    assert.ok(quiet.closedAt !== undefined, 'closed');
    assert.ok(quiet.closedAt - since >= IDLE_MS - 1, `closed after ${quiet.closedAt - since} ms, before the idle time`);
  });

  it('closes a connection watched just before a sweep no sooner than the idle time', async () => {
    const idleMs = 400;
    const sweep = new IdleSweep(idleMs);
    await sleep(idleMs / 4 - 20); // the sweeps run every idleMs / 4 from the sweep's start: the first is 20 ms away
    const fresh = connection();
    const since = performance.now();
    sweep.watch(fresh);
    await sleep(idleMs * 2);
    sweep.stop();
    assert.ok(fresh.closedAt !== undefined, 'closed');
    assert.ok(fresh.closedAt - since >= idleMs - 1, `closed ${fresh.closedAt - since} ms after it was watched`);
  });

  it('keeps a connection open while its activity moves, and closes it once it stops', async () => {
    const sweep = new IdleSweep(IDLE_MS);
    const busy = connection();
    sweep.watch(busy);
    let lastActive = 0;
    for (let i = 0; i < 40; i++) {
      busy.activity++;
      lastActive = performance.now();
      await sleep(10);
    }
    assert.equal(busy.closedAt, undefined, 'an active connection stays open past several idle times');
    await sleep(IDLE_MS * 3);
    sweep.stop();
    assert.ok(busy.closedAt !== undefined, 'closed once quiet');
    assert.ok(
      busy.closedAt - lastActive >= IDLE_MS - 1,
      `closed ${busy.closedAt - lastActive} ms after its last activity`,
    );
  });

  it('closes nothing once stopped or unwatched', async () => {
    const sweep = new IdleSweep(IDLE_MS);
    const unwatched = connection();
    const watched = connection();
    sweep.watch(unwatched);
    sweep.watch(watched);
    sweep.unwatch(unwatched);
    await sleep(IDLE_MS * 3);
    assert.equal(unwatched.closedAt, undefined);
    assert.ok(watched.closedAt !== undefined);
    const late = connection();
    sweep.watch(late);
    sweep.stop();
    await sleep(IDLE_MS * 3);
    assert.equal(late.closedAt, undefined);
  });
});
