import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingRequests, type Pending } from '../../src/cluster/pending-requests.js';
import { CoalescedRun } from '../../src/lib/coalesced-run.js';
import { SingleFlight } from '../../src/lib/single-flight.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

describe('SingleFlight', () => {
  it('shares a running call, and starts a new one once it settled', async () => {
    const flights = new SingleFlight<number>();
    let calls = 0;
    const first = deferred<number>();
    const a = flights.do('k', () => (calls++, first.promise));
    const b = flights.do('k', () => (calls++, Promise.resolve(2)));
    assert.equal(a, b);
    first.resolve(1);
    assert.equal(await a, 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await flights.do('k', () => (calls++, Promise.resolve(3))), 3);
    assert.equal(calls, 2);
  });

  it('a superseded call still runs (and is awaited at stop) while the next caller starts a new one', async () => {
    const flights = new SingleFlight<number>();
    const slow = deferred<number>();
    let seen: { superseded: boolean } | undefined;
    const old = flights.do('k', (flight) => ((seen = flight), slow.promise));
    flights.supersede('k');
    assert.equal(seen?.superseded, true);
    const fresh = flights.do('k', () => Promise.resolve(7));
    assert.notEqual(fresh, old);
    assert.deepEqual(new Set(flights.running()), new Set([old, fresh]));
    slow.resolve(1);
    await Promise.all([old, fresh]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(flights.running(), []);
  });

  it('keeps its table bounded over an endless stream of distinct keys', async () => {
    const flights = new SingleFlight<number>();
    for (let i = 0; i < 50_000; i++) await flights.do(`key-${i}`, () => Promise.resolve(i));
    assert.ok(flights.tableSize <= 4_096, `table holds ${flights.tableSize} entries`);
    assert.deepEqual(flights.running(), []);
  });
});

describe('PendingRequests', () => {
  const pending = (requestId: number, deadline = Infinity): Pending<string> => ({
    requestId,
    resolve() {},
    reject() {},
    deadline,
    timeoutMs: 1,
  });

  it('hands out ids whose slots are free, and takes a request only under its own id', () => {
    const table = new PendingRequests<string>(4);
    const ids = [table.nextId()!, table.nextId()!];
    for (const id of ids) table.add(pending(id));
    assert.deepEqual(ids, [1, 2]);
    assert.equal(table.take(1 + 4), undefined, 'an id sharing the slot is not the request');
    assert.equal(table.take(1)?.requestId, 1);
    assert.equal(table.take(1), undefined, 'taken once');
    assert.equal(table.size, 1);
  });

  it('skips ids whose slot is still taken, and reports full', () => {
    const table = new PendingRequests<string>(2);
    table.add(pending(table.nextId()!)); // 1 -> slot 1
    table.add(pending(table.nextId()!)); // 2 -> slot 0
    assert.equal(table.nextId(), undefined, 'full');
    table.take(2);
    assert.equal(table.nextId(), 4, 'id 3 maps to the taken slot 1, so 4 (slot 0) comes next');
  });

  it('takes the expired requests, then all', () => {
    const table = new PendingRequests<string>(8);
    for (const deadline of [10, 20, 30]) table.add(pending(table.nextId()!, deadline));
    assert.deepEqual(
      table
        .takeExpired(20)
        .map((entry) => entry.deadline)
        .sort(),
      [10, 20],
    );
    assert.equal(table.takeAll().length, 1);
    assert.equal(table.size, 0);
  });

  it('refuses a capacity that is not a power of two', () => {
    assert.throws(() => new PendingRequests(3), RangeError);
  });
});

describe('CoalescedRun', () => {
  it('runs once more after the run in progress, however often it was asked meanwhile, and not when no longer wanted', async () => {
    for (const wanted of [true, false]) {
      let runs = 0;
      let finish!: () => void;
      const run = new CoalescedRun(
        () => (runs++, new Promise<void>((resolve) => (finish = resolve))),
        () => wanted,
      );
      run.request();
      for (let i = 0; i < 5; i++) run.request();
      assert.equal(runs, 1);
      const first = run.running;
      finish();
      await first;
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(runs, wanted ? 2 : 1);
      if (wanted) {
        finish();
        await run.running;
      }
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(run.running, undefined);
      assert.equal(runs, wanted ? 2 : 1);
    }
  });
});
