import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createXxhash64 } from '../../src/cluster/hasher.js';
import { Placement } from '../../src/cluster/placement.js';

describe('Placement.isOwner', () => {
  it('agrees with owners() for every member, key and copy count, including more copies than members', async () => {
    const placement = new Placement(await createXxhash64());
    const members = ['10.0.0.1:3320', '10.0.0.2:3320', '10.0.0.3:3320', '10.0.0.4:3320'];
    placement.setMembers(members);
    for (let i = 0; i < 200; i++) {
      const key = `key:${i}`;
      for (const copies of [1, 2, 3, 4, 5]) {
        const owners = placement.owners('ks', key, copies);
        assert.equal(owners.length, Math.min(copies, members.length));
        for (const member of members)
          assert.equal(
            placement.isOwner('ks', key, copies, member),
            owners.includes(member),
            `${member} for ${key} with ${copies} copies`,
          );
      }
    }
    assert.equal(
      placement.isOwner('ks', 'key:0', 4, '10.0.0.9:3320'),
      false,
      'a node that is not a member owns nothing',
    );
  });
});
