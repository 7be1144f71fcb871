import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CopyHolders } from '../../src/cluster/copy-holders.js';
import { HOT_TTL_MS } from '../../src/cluster/hot-cache.js';

describe('CopyHolders', () => {
  it('returns the nodes that read a key within the hot-copy lifetime, once', () => {
    const holders = new CopyHolders();
    holders.record('users', 'k', ['a:3320'], 0);
    holders.record('users', 'k', ['b:3320'], 100);
    holders.record('users', 'other', ['c:3320'], 100);
    holders.record('orders', 'k', ['d:3320'], 100);
    assert.deepEqual([...(holders.take('users', 'k', 200) as string[])].sort(), ['a:3320', 'b:3320']);
    assert.deepEqual(holders.take('users', 'k', 201), [], 'taken: the next write has no one to tell');
    assert.deepEqual(holders.take('orders', 'k', 201), ['d:3320']);
  });

  it('forgets a reader once its hot copy has surely expired', () => {
    const holders = new CopyHolders();
    holders.record('users', 'k', ['a:3320'], 0);
    holders.record('users', 'k', ['b:3320'], HOT_TTL_MS);
    assert.deepEqual(holders.take('users', 'k', HOT_TTL_MS + 1_500), ['b:3320']);
  });

  it('answers everyone while a reader it could not name may hold a copy', () => {
    const holders = new CopyHolders();
    holders.record('users', 'k', [], 0);
    assert.equal(holders.take('users', 'any', 10), 'everyone');
    assert.deepEqual(holders.take('users', 'any', HOT_TTL_MS + 1_001), []);
  });

  it('while it cannot keep track, answers everyone once per key, then only the named readers, until an unrecorded read of that key', () => {
    const holders = new CopyHolders();
    holders.record('users', 'k', [], 0);
    assert.equal(holders.take('users', 'k', 10), 'everyone');
    assert.deepEqual(holders.take('users', 'k', 11), [], 'everyone was told: nothing left to tell');
    holders.record('users', 'k', ['a:3320'], 12);
    assert.deepEqual(holders.take('users', 'k', 13), ['a:3320'], 'a named reader since is still told');
    assert.equal(holders.take('users', 'other', 14), 'everyone', 'another key was not told yet');
    holders.record('users', 'k', [], 15);
    assert.equal(holders.take('users', 'k', 16), 'everyone', 'a copy it could not record: everyone again');
    holders.record('users', 'j', [], HOT_TTL_MS + 900);
    assert.deepEqual(holders.take('users', 'k', HOT_TTL_MS + 1_100), [], 'another key kept the window open: k is told');
    assert.equal(holders.take('users', 'j', HOT_TTL_MS + 1_101), 'everyone');
  });

  it('after its lost-track window, forgets which keys it told everyone: a new window tells each key again', () => {
    const holders = new CopyHolders();
    holders.record('users', 'k', [], 0);
    assert.equal(holders.take('users', 'k', 1), 'everyone');
    const later = HOT_TTL_MS + 2_000;
    assert.deepEqual(holders.take('users', 'k', later), []);
    holders.record('users', 'j', [], later);
    assert.equal(holders.take('users', 'k', later + 1), 'everyone');
  });

  it('a pair it had to drop for room also makes its key tell everyone again', () => {
    const holders = new CopyHolders(1);
    holders.record('ks', 'a', ['n:3320'], 0);
    holders.record('ks', 'b', ['n:3320'], 0);
    assert.equal(holders.take('ks', 'b', 1), 'everyone');
    assert.deepEqual(holders.take('ks', 'b', 2), []);
    holders.record('ks', 'a', ['n:3320'], 3);
    holders.record('ks', 'b', ['m:3320'], 3);
    assert.equal(holders.take('ks', 'b', 4), 'everyone', 'the pair for m was not kept');
  });

  it('remembers a bounded number of keys told everyone, forgetting the oldest (told again: never too few)', () => {
    const holders = new CopyHolders(16, 2);
    holders.record('ks', 'x', [], 0);
    for (const key of ['a', 'b', 'c']) assert.equal(holders.take('ks', key, 1), 'everyone');
    assert.deepEqual(holders.take('ks', 'c', 2), []);
    assert.deepEqual(holders.take('ks', 'b', 2), []);
    assert.equal(holders.take('ks', 'a', 2), 'everyone', 'forgotten as the oldest');
  });

  it('stays within its bound, answering everyone when it had to drop a pair, and recovers once copies expired', () => {
    const holders = new CopyHolders(3);
    for (const key of ['a', 'b', 'c', 'd']) holders.record('ks', key, ['n:3320'], 0);
    assert.equal(holders.size, 3);
    assert.equal(holders.take('ks', 'a', 1), 'everyone', 'the pair for d was not kept');
    const later = HOT_TTL_MS + 2_000;
    holders.record('ks', 'e', ['m:3320'], later);
    assert.deepEqual(holders.take('ks', 'e', later + 1), ['m:3320']);
    assert.ok(holders.size <= 3);
  });

  it('forgets a dropped keyspace', () => {
    const holders = new CopyHolders();
    holders.record('users', 'k', ['a:3320'], 0);
    holders.record('users2', 'k', ['b:3320'], 0);
    holders.dropKeyspace('users');
    assert.deepEqual(holders.take('users', 'k', 1), []);
    assert.deepEqual(holders.take('users2', 'k', 1), ['b:3320']);
    assert.equal(holders.size, 0);
  });
});
