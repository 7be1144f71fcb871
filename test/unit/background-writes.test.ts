import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackgroundWrites } from '../../src/cluster/background-writes.js';
import { CopyBatches } from '../../src/cluster/copy-batches.js';
import type { HandoffEntry } from '../../src/cluster/handoff.js';
import { MessageType, peerFrameBytes } from '../../src/cluster/peer-codec.js';
import type { Keyspace } from '../../src/keyspace/keyspace.js';

/** A work item that settles when told to. */
function controlled(): { work: () => Promise<void>; finish: () => void; started: () => boolean } {
  let finish!: () => void;
  let started = false;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    work: () => {
      started = true;
      return done;
    },
    finish: () => finish(),
    started: () => started,
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('BackgroundWrites', () => {
  it('runs at most its bound of writes at once; the next waits, in order, until one settles', async () => {
    const background = new BackgroundWrites(2, 1_000_000);
    const [a, b, c, d] = [controlled(), controlled(), controlled(), controlled()];
    assert.equal(background.start(10, a.work), undefined, 'under the bound, work starts at once');
    assert.equal(background.start(10, b.work), undefined);
    const cStarted = background.start(10, c.work);
    const dStarted = background.start(10, d.work);
    assert.ok(cStarted instanceof Promise && dStarted instanceof Promise, 'past the bound, writes wait');
    assert.deepEqual([c.started(), d.started(), background.pending], [false, false, { running: 2, waiting: 2 }]);
    b.finish();
    await cStarted;
    assert.deepEqual([c.started(), d.started()], [true, false], 'the first waiting write takes the room');
    a.finish();
    c.finish();
    await dStarted;
    d.finish();
    await background.idle();
    assert.deepEqual(background.pending, { running: 0, waiting: 0 });
  });

  it('bounds the bytes held, but always lets one write through', async () => {
    const background = new BackgroundWrites(100, 1_000);
    const big = controlled();
    assert.equal(background.start(5_000, big.work), undefined, 'a write larger than the bound runs alone');
    const next = controlled();
    const waiting = background.start(1, next.work);
    assert.ok(waiting instanceof Promise);
    big.finish();
    await waiting;
    next.finish();
    await background.idle();
  });
});

describe('CopyBatches', () => {
  const keyspace = { name: 'ks' } as Keyspace;
  const entry = (key: string): HandoffEntry => ({ key, copy: { value: new Uint8Array(8), expiresAt: 0, version: 1 } });
  /** CopyBatches whose sends record their keys and wait for the test to answer them. */
  const recordingBatches = () => {
    const sent: string[][] = [];
    const answers: (() => void)[] = [];
    const batches = new CopyBatches((_node, _keyspace, entries) => {
      sent.push(entries.map((each) => each.key));
      return new Promise<void>((resolve) => answers.push(resolve));
    });
    return { sent, answers, batches };
  };

  it('sends the copies queued for one node together, one batch on its way at a time', async () => {
    const { sent, answers, batches } = recordingBatches();
    const settled: string[] = [];
    for (const key of ['a', 'b', 'c']) batches.send('n1', keyspace, entry(key), () => settled.push(key));
    batches.send('n2', keyspace, entry('x'), () => settled.push('x'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(sent, [['a', 'b', 'c'], ['x']], 'one request per node');
    batches.send('n1', keyspace, entry('d'), () => settled.push('d'));
    batches.send('n1', keyspace, entry('e'), () => settled.push('e'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(sent.length, 2, 'while a batch is on its way, the next gathers');
    answers[0]!();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(sent[2], ['d', 'e'], 'the gathered copies leave once the first batch is answered');
    answers[1]!();
    answers[2]!();
    await turn();
    assert.deepEqual(settled.sort(), ['a', 'b', 'c', 'd', 'e', 'x']);
  });

  it('sends a large copy apart from the batch it would overfill: every batch fits one peer frame', async () => {
    const sent: HandoffEntry[][] = [];
    const batches = new CopyBatches((_node, _keyspace, entries) => {
      // What the router's send does first: a batch larger than a frame could not leave at all.
      peerFrameBytes({ type: MessageType.HANDOFF, keyspace: 'ks', entries });
      sent.push([...entries]);
      return Promise.resolve();
    });
    const errors: unknown[] = [];
    const large: HandoffEntry = { key: 'large', copy: { value: new Uint8Array(16 << 20), expiresAt: 0, version: 1 } };
    const small: HandoffEntry = { key: 'small', copy: { value: new Uint8Array(400 << 10), expiresAt: 0, version: 1 } };
    batches.send('n1', keyspace, small, (error) => errors.push(error));
    batches.send('n1', keyspace, large, (error) => errors.push(error));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(errors, [undefined, undefined], 'both copies were sent');
    assert.deepEqual(
      sent.map((batch) => batch.map((each) => each.key)),
      [['small'], ['large']],
    );
  });

  it('drops the copies of an emptied keyspace not sent yet; the batch on its way is not recalled', async () => {
    const { sent, answers, batches } = recordingBatches();
    const settled: string[] = [];
    batches.send('n1', keyspace, entry('a'), () => settled.push('a'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    batches.send('n1', keyspace, entry('b'), () => settled.push('b'));
    batches.send('n1', { name: 'other' } as Keyspace, entry('c'), () => settled.push('c'));
    batches.drop('ks');
    assert.deepEqual(settled, ['b'], 'the dropped copy settles at once');
    answers[0]!();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(sent, [['a'], ['c']], 'b is never sent; the other keyspace keeps its copy');
    answers[1]!();
  });

  it('reports a failed send to every write of the batch', async () => {
    const failure = new Error('unreachable');
    const batches = new CopyBatches(() => Promise.reject(failure));
    const errors = await Promise.all(
      ['a', 'b'].map((key) => new Promise((resolve) => batches.send('n1', keyspace, entry(key), resolve))),
    );
    assert.deepEqual(errors, [failure, failure]);
  });
});
