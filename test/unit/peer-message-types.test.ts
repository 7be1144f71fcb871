import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageType } from '../../src/cluster/peer-codec.js';

describe('peer message types', () => {
  it('gives every message its own number, so messages added on different branches cannot be mistaken for each other', () => {
    const byNumber = new Map<number, string[]>();
    for (const [name, type] of Object.entries(MessageType)) byNumber.set(type, [...(byNumber.get(type) ?? []), name]);
    const shared = [...byNumber].filter(([, names]) => names.length > 1);
    assert.deepEqual(shared, [], `message numbers used twice: ${JSON.stringify(shared)}`);
  });

  it('fits every number in the one byte the frame header gives it', () => {
    for (const [name, type] of Object.entries(MessageType))
      assert.ok(Number.isInteger(type) && type >= 0 && type <= 255, `${name} = ${type}`);
  });
});
