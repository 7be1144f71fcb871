/**
 * What a member that lies (or a stranger on an open cluster) can do to the
 * SWIM state machine with well-formed messages: the lies SWIM cannot tell
 * from the truth (a suspicion, a death) are refuted as usual; the ones below
 * would otherwise do lasting harm.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSwimMessage, encodeSwimMessage } from '../../src/cluster/swim/codec.js';
import { MAX_MEMBERS, type Identity, type MemberRecord, type SwimMessage } from '../../src/cluster/swim/messages.js';
import { SwimStateMachine, type SwimOutput } from '../../src/cluster/swim/swim.js';
import { DEFAULT_TIMING, MAX_INCARNATION_LEAD } from '../../src/cluster/swim/timing.js';
import { seededRandom } from '../helpers/random.js';

const HUGE = Number.MAX_SAFE_INTEGER;

function identity(id: string, incarnation = 1, meta = 'digest-1'): Identity {
  return { id, address: `${id}:3322`, incarnation, meta };
}

/** A machine for `self` that already knows `members` alive, as after joining. */
function formed(self: string, members: string[]): SwimStateMachine {
  const machine = new SwimStateMachine({
    self: identity(self),
    timing: DEFAULT_TIMING,
    random: seededRandom(1),
    now: 0,
  });
  const records = [self, ...members].map((id) => ({ ...identity(id), state: 'alive' as const }));
  machine.receive(0, { type: 'sync', reply: true, from: identity(members[0]!), members: records, rumours: [] });
  return machine;
}

function sent(outputs: SwimOutput[]): SwimMessage[] {
  return outputs.flatMap((output) => (output.type === 'send' ? [output.message] : []));
}

/** Where and at which incarnation `machine` believes `id` is. */
function belief(machine: SwimStateMachine, id: string): { address: string; incarnation: number; meta: string } {
  const { address, incarnation, meta } = machine.member(id)!;
  return { address, incarnation, meta };
}

describe('a member that lies about incarnations', () => {
  it('cannot push another member past the incarnations the wire carries by accusing it at the largest one', () => {
    const victim = formed('b', ['a', 'c']);
    const outputs = victim.receive(0, {
      type: 'gossip',
      from: identity('c'),
      rumours: [{ type: 'suspect', id: 'b', incarnation: HUGE, from: 'c' }],
    });
    outputs.push(...victim.tick(victim.nextDeadline()));
    assert.ok(Number.isSafeInteger(victim.self.incarnation), `incarnation ${victim.self.incarnation}`);
    for (const message of sent(outputs))
      assert.deepEqual(decodeSwimMessage(encodeSwimMessage(message)), message, 'every message it sends is valid');
  });

  it('cannot take another member’s identity with an incarnation no clock has reached, by rumour, sync or as its sender', () => {
    const node = formed('a', ['b', 'c']);
    const lie: Identity = { id: 'b', address: 'liar:3322', incarnation: HUGE, meta: 'forged' };
    const record: MemberRecord = { ...lie, state: 'alive' };
    node.receive(1, { type: 'gossip', from: identity('c'), rumours: [{ type: 'alive', ...lie }] });
    node.receive(2, { type: 'sync', reply: true, from: identity('c'), rumours: [], members: [record] });
    node.receive(3, { type: 'gossip', from: lie, rumours: [] });
    assert.deepEqual(belief(node, 'b'), { address: 'b:3322', incarnation: 1, meta: 'digest-1' });
    node.receive(4, { type: 'gossip', from: identity('b', 2, 'digest-2'), rumours: [] });
    assert.deepEqual(
      belief(node, 'b'),
      { address: 'b:3322', incarnation: 2, meta: 'digest-2' },
      'the member itself is still heard',
    );
  });

  it('is still believed within a year ahead of the clock (a member restarted with a clock ahead)', () => {
    const node = formed('a', ['b', 'c']);
    const now = 1_000;
    node.receive(now, { type: 'gossip', from: identity('b', now + MAX_INCARNATION_LEAD, 'digest-2'), rumours: [] });
    assert.equal(belief(node, 'b').incarnation, now + MAX_INCARNATION_LEAD);
  });
});

describe('a member that floods made-up members', () => {
  it('cannot grow a node’s table past what one full-state exchange carries, and the node’s own exchange stays valid', () => {
    const node = formed('a', ['b', 'c']);
    for (let round = 0; round < 3; round++) {
      const members = Array.from({ length: MAX_MEMBERS }, (_, i) => ({
        ...identity(`made-up-${round}-${i}`),
        state: 'alive' as const,
      }));
      node.receive(round, { type: 'sync', reply: true, from: identity('c'), rumours: [], members });
    }
    assert.equal(node.members().length, MAX_MEMBERS - 1);
    const outputs = node.receive(3, { type: 'sync', reply: false, from: identity('c'), rumours: [], members: [] });
    const [reply] = sent(outputs).filter((message) => message.type === 'sync');
    assert.ok(reply);
    assert.deepEqual(decodeSwimMessage(encodeSwimMessage(reply)), reply);
  });
});
