import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity, Rumour, SwimMessage } from '../../src/cluster/swim/messages.js';
import { SwimStateMachine, type SwimOutput } from '../../src/cluster/swim/swim.js';
import { DEFAULT_TIMING, suspicionTimeout, SUSPICION_MAX_MULTIPLIER } from '../../src/cluster/swim/timing.js';
import { seededRandom } from '../helpers/random.js';

const timing = DEFAULT_TIMING;

function identity(id: string, incarnation = 1, meta = 'digest-1'): Identity {
  return { id, address: `${id}:3322`, incarnation, meta };
}

/** A machine for `self` that already knows `members` alive, as after joining. */
function formed(self: string, members: string[], seed = 1): SwimStateMachine {
  const machine = new SwimStateMachine({ self: identity(self), timing, random: seededRandom(seed), now: 0 });
  const records = [self, ...members].map((id) => ({ ...identity(id), state: 'alive' as const }));
  machine.receive(0, { type: 'sync', reply: true, from: identity(members[0]!), members: records, rumours: [] });
  return machine;
}

function sends(outputs: SwimOutput[]): { to: string; message: SwimMessage }[] {
  return outputs.flatMap((output) => (output.type === 'send' ? [{ to: output.to, message: output.message }] : []));
}

function changes(outputs: SwimOutput[]): { type: string; id: string; state: string }[] {
  return outputs.flatMap((output) =>
    output.type === 'joined' || output.type === 'updated' || output.type === 'left'
      ? [{ type: output.type, id: output.member.id, state: output.member.state }]
      : [],
  );
}

/** Ticks `machine` at each deadline up to `until`, as a punctual owner would. */
function runUntil(machine: SwimStateMachine, until: number): SwimOutput[] {
  const outputs: SwimOutput[] = [];
  for (let due = machine.nextDeadline(); due <= until; due = machine.nextDeadline()) outputs.push(...machine.tick(due));
  return outputs;
}

/** As {@link runUntil}, with the members in `responsive` acking every ping at once. */
function runResponsive(machine: SwimStateMachine, until: number, responsive: readonly string[]): SwimOutput[] {
  const outputs: SwimOutput[] = [];
  for (let due = machine.nextDeadline(); due <= until; due = machine.nextDeadline()) {
    const ticked = machine.tick(due);
    outputs.push(...ticked);
    for (const { message } of sends(ticked)) {
      if (message.type === 'ping' && responsive.includes(message.target))
        outputs.push(
          ...machine.receive(due, {
            type: 'ack',
            seq: message.seq,
            from: identity(message.target, machine.member(message.target)!.incarnation),
            rumours: [],
          }),
        );
    }
  }
  return outputs;
}

/** Runs until `machine` sends its first ping of a period; returns it and the time. */
function nextPing(machine: SwimStateMachine): { at: number; to: string; ping: Extract<SwimMessage, { type: 'ping' }> } {
  for (let i = 0; i < 100; i++) {
    const at = machine.nextDeadline();
    const ping = sends(machine.tick(at)).find((send) => send.message.type === 'ping');
    if (ping !== undefined) return { at, to: ping.to, ping: ping.message as Extract<SwimMessage, { type: 'ping' }> };
  }
  throw new Error('no ping');
}

function rumoursIn(outputs: SwimOutput[]): Rumour[] {
  return sends(outputs).flatMap((send) => send.message.rumours);
}

describe('SWIM state machine', () => {
  it('probes one member per period and visits every member once per round', () => {
    const machine = formed('a', ['b', 'c', 'd']);
    const targets: string[] = [];
    for (let period = 0; period < 6; period++) {
      const { at, ping } = nextPing(machine);
      targets.push(ping.target);
      machine.receive(at + 1, { type: 'ack', seq: ping.seq, from: identity(ping.target), rumours: [] });
    }
    assert.deepEqual([...targets.slice(0, 3)].sort(), ['b', 'c', 'd']);
    assert.deepEqual([...targets.slice(3, 6)].sort(), ['b', 'c', 'd']);
  });

  it('without an ack by probeTimeout, asks others to probe; a relayed ack keeps the member alive', () => {
    const machine = formed('a', ['b', 'c', 'd']);
    const { at, ping } = nextPing(machine);
    const requests = sends(runUntil(machine, at + timing.probeTimeout)).filter((s) => s.message.type === 'ping-req');
    assert.equal(requests.length, 2, 'both other members are asked (indirectChecks 3, only 2 available)');
    for (const request of requests) assert.equal((request.message as { target: string }).target, ping.target);
    machine.receive(at + timing.probeTimeout + 5, { type: 'ack', seq: ping.seq, from: identity('c'), rumours: [] });
    const later = runUntil(machine, at + timing.probeInterval * 3);
    assert.deepEqual(
      changes(later).filter((change) => change.id === ping.target),
      [],
    );
    assert.equal(machine.member(ping.target)?.state, 'alive');
  });

  it('suspects a member nobody could reach by the end of the period, and tells it so', () => {
    const machine = formed('a', ['b', 'c', 'd']);
    const { at, ping } = nextPing(machine);
    const outputs = runUntil(machine, at + timing.probeInterval);
    assert.deepEqual(
      changes(outputs).filter((change) => change.id === ping.target),
      [{ type: 'updated', id: ping.target, state: 'suspect' }],
    );
    const told = sends(outputs).find((send) => send.to === `${ping.target}:3322` && send.message.type === 'gossip');
    assert.ok(
      told?.message.rumours.some((rumour) => rumour.type === 'suspect' && rumour.id === ping.target),
      'the suspect hears of it, to refute',
    );
  });

  it('declares a suspect dead after the suspicion timeout (4 × probeInterval in a 3-node cluster) unless it refutes', () => {
    const machine = formed('a', ['b', 'c']);
    machine.receive(0, { type: 'gossip', from: identity('c'), rumours: [suspect('b', 1, 'c')] });
    assert.equal(machine.member('b')?.state, 'suspect');
    const expected = suspicionTimeout(timing, 3);
    assert.equal(expected, 4 * timing.probeInterval);
    runResponsive(machine, expected - 1, ['c']);
    assert.equal(machine.member('b')?.state, 'suspect');
    const after = runResponsive(machine, expected, ['c']);
    assert.deepEqual(
      changes(after).filter((change) => change.id === 'b'),
      [{ type: 'left', id: 'b', state: 'dead' }],
    );
    assert.ok(
      rumoursIn(runResponsive(machine, expected + 1_000, ['c'])).some((r) => r.type === 'dead' && r.id === 'b'),
    );
  });

  it('in a larger cluster, a suspicion starts at its maximum and shrinks with independent confirmations', () => {
    const members = Array.from({ length: 19 }, (_, i) => `m${i}`);
    const lone = formed('a', members);
    const confirmed = formed('a', members);
    const min = suspicionTimeout(timing, 20);
    for (const machine of [lone, confirmed])
      machine.receive(0, { type: 'gossip', from: identity('m1'), rumours: [suspect('m0', 1, 'm1')] });
    confirmed.receive(10, { type: 'gossip', from: identity('m2'), rumours: [suspect('m0', 1, 'm2')] });
    confirmed.receive(20, { type: 'gossip', from: identity('m3'), rumours: [suspect('m0', 1, 'm3')] });
    confirmed.receive(30, { type: 'gossip', from: identity('m3'), rumours: [suspect('m0', 1, 'm3')] });
    runUntil(confirmed, Math.ceil(min));
    assert.equal(confirmed.member('m0')?.state, 'dead', 'two confirmations (k = 2) bring it down to the minimum');
    runUntil(lone, Math.ceil(min) * 2);
    assert.equal(lone.member('m0')?.state, 'suspect', 'without confirmations it waits longer');
    runUntil(lone, Math.ceil(min * SUSPICION_MAX_MULTIPLIER));
    assert.equal(lone.member('m0')?.state, 'dead');
  });

  it('a suspect member refutes with a higher incarnation; the same incarnation does not clear it', () => {
    const machine = formed('a', ['b', 'c', 'd']);
    machine.receive(0, { type: 'gossip', from: identity('c'), rumours: [suspect('b', 1, 'c')] });
    machine.receive(5, { type: 'gossip', from: identity('c'), rumours: [{ type: 'alive', ...identity('b', 1) }] });
    assert.equal(machine.member('b')?.state, 'suspect');
    const outputs = machine.receive(10, {
      type: 'gossip',
      from: identity('c'),
      rumours: [{ type: 'alive', ...identity('b', 2) }],
    });
    assert.deepEqual(changes(outputs), [{ type: 'updated', id: 'b', state: 'alive' }]);
    assert.equal(machine.member('b')?.incarnation, 2);
    runResponsive(machine, 60_000, ['b', 'c', 'd']);
    assert.equal(machine.member('b')?.state, 'alive');
  });

  it('a node told it is suspect raises its incarnation and spreads the refutation', () => {
    const machine = formed('a', ['b', 'c', 'd']);
    const outputs = machine.receive(0, { type: 'gossip', from: identity('b'), rumours: [suspect('a', 1, 'b')] });
    assert.equal(machine.self.incarnation, 2);
    assert.ok(!outputs.some((output) => output.type === 'declared-dead'), 'a suspicion is not a death');
    const refutation = rumoursIn(runUntil(machine, 1_000)).find((rumour) => rumour.id === 'a');
    assert.deepEqual(refutation, { type: 'alive', ...identity('a', 2) });
  });

  it('a node declared dead refutes and reports it once, even when a suspicion made it refute first', () => {
    const direct = formed('a', ['b', 'c']);
    const outputs = direct.receive(0, { type: 'gossip', from: identity('b'), rumours: [dead('a', 1, 'b')] });
    assert.deepEqual(
      outputs.filter((output) => output.type === 'declared-dead'),
      [{ type: 'declared-dead', incarnation: 1, by: 'b' }],
    );
    assert.equal(direct.self.incarnation, 2);

    const late = formed('a', ['b', 'c']);
    late.receive(0, { type: 'gossip', from: identity('b'), rumours: [suspect('a', 1, 'b')] });
    const first = late.receive(1, { type: 'gossip', from: identity('c'), rumours: [dead('a', 1, 'c')] });
    const again = late.receive(2, { type: 'gossip', from: identity('b'), rumours: [dead('a', 1, 'b')] });
    assert.equal(first.filter((output) => output.type === 'declared-dead').length, 1);
    assert.equal(again.filter((output) => output.type === 'declared-dead').length, 0);
    assert.equal(late.self.incarnation, 2, 'the death at incarnation 1 was already refuted');
  });

  it('tells a member back from the dead that it had been declared dead', () => {
    const machine = formed('a', ['b', 'c']);
    machine.receive(0, { type: 'gossip', from: identity('c'), rumours: [dead('b', 1, 'c')] });
    const outputs = machine.receive(10, { type: 'ping', seq: 7, target: 'a', from: identity('b', 2), rumours: [] });
    assert.deepEqual(changes(outputs), [{ type: 'joined', id: 'b', state: 'alive' }]);
    const told = sends(outputs).find((send) => send.to === 'b:3322' && send.message.type === 'gossip');
    assert.ok(told?.message.rumours.some((r) => r.type === 'dead' && r.id === 'b' && r.incarnation === 1));
  });

  it('as an intermediary, relays the ack of a ping request, or answers nack after probeTimeout', () => {
    const machine = formed('a', ['b', 'c']);
    const request = (seq: number) =>
      machine.receive(100, {
        type: 'ping-req',
        seq,
        target: 'c',
        targetAddress: 'c:3322',
        from: identity('b'),
        rumours: [],
      });
    const [ping] = sends(request(41));
    assert.equal(ping?.to, 'c:3322');
    assert.equal(ping?.message.type, 'ping');
    const relayed = sends(
      machine.receive(110, {
        type: 'ack',
        seq: (ping!.message as { seq: number }).seq,
        from: identity('c'),
        rumours: [],
      }),
    );
    assert.deepEqual(
      relayed.map((s) => [s.to, s.message.type, (s.message as { seq: number }).seq]),
      [['b:3322', 'ack', 41]],
    );
    request(42);
    const nacks = sends(runUntil(machine, 100 + timing.probeTimeout)).filter((s) => s.message.type === 'nack');
    assert.deepEqual(
      nacks.map((s) => [s.to, (s.message as { seq: number }).seq]),
      [['b:3322', 42]],
    );
  });

  it('a refused ping goes indirect at once, and suspects as soon as every intermediary has nacked', () => {
    const machine = formed('a', ['b', 'c', 'd']);
    const { at, ping } = nextPing(machine);
    const requests = sends(machine.undeliverable(at + 1, ping));
    assert.equal(requests.filter((s) => s.message.type === 'ping-req').length, 2);
    for (const [i, helper] of ['b', 'c', 'd'].filter((id) => id !== ping.target).entries())
      machine.receive(at + 2 + i, { type: 'nack', seq: ping.seq, from: identity(helper), rumours: [] });
    assert.equal(machine.member(ping.target)?.state, 'suspect', 'before the period ends');
  });

  it('a graceful leave reaches every member as left; the leaver stops probing and does not refute', () => {
    const leaver = formed('a', ['b', 'c']);
    const outputs = leaver.leave(0);
    const notices = sends(outputs);
    assert.deepEqual(notices.map((s) => s.to).sort(), ['b:3322', 'c:3322']);
    const receiver = formed('b', ['a', 'c']);
    const seen = receiver.receive(1, notices[0]!.message);
    assert.deepEqual(changes(seen), [{ type: 'left', id: 'a', state: 'left' }]);
    assert.ok(!sends(runUntil(leaver, 10_000)).some((s) => s.message.type === 'ping'));
    leaver.receive(10_001, { type: 'gossip', from: identity('b'), rumours: [dead('a', 1, 'b')] });
    assert.equal(leaver.self.incarnation, 1);
  });

  it('new metadata (a keyspace digest) spreads with a new incarnation and shows as updated', () => {
    const machine = formed('a', ['b', 'c']);
    machine.setMeta(0, 'digest-2');
    assert.deepEqual(machine.self, identity('a', 2, 'digest-2'));
    const rumour = rumoursIn(runUntil(machine, 300)).find((r) => r.id === 'a');
    const receiver = formed('b', ['a', 'c']);
    const outputs = receiver.receive(301, { type: 'gossip', from: identity('c'), rumours: [rumour!] });
    assert.deepEqual(changes(outputs), [{ type: 'updated', id: 'a', state: 'alive' }]);
    assert.equal(receiver.member('a')?.meta, 'digest-2');
  });

  it('joins through an address with one full-state exchange each way', () => {
    const seed = formed('s', ['b', 'c']);
    const joiner = new SwimStateMachine({ self: identity('j'), timing, random: seededRandom(3), now: 0 });
    const [syncOut] = sends(joiner.join(0, ['s:3322']));
    assert.equal(syncOut?.message.type, 'sync');
    const reply = sends(seed.receive(1, syncOut!.message)).find((s) => s.message.type === 'sync');
    assert.equal(reply?.to, 'j:3322');
    assert.equal(seed.member('j')?.state, 'alive');
    joiner.receive(2, reply!.message);
    assert.deepEqual(
      joiner
        .members()
        .map((m) => `${m.id}:${m.state}`)
        .sort(),
      ['b:alive', 'c:alive', 's:alive'],
    );
  });

  it('after a pause of its own process, concludes nothing from probes in flight and gives suspects their time back', () => {
    const machine = formed('a', ['b', 'c', 'd']);
    machine.receive(0, { type: 'gossip', from: identity('c'), rumours: [suspect('b', 1, 'c')] });
    const { at } = nextPing(machine);
    const resumed = at + 10_000;
    const outputs = machine.tick(resumed);
    assert.deepEqual(changes(outputs), [], 'no suspicion, no death right after the pause');
    assert.equal(machine.member('b')?.state, 'suspect');
    assert.ok(machine.awareness > 0, 'the pause counts against local health');
  });
});

function suspect(id: string, incarnation: number, from: string): Rumour {
  return { type: 'suspect', id, incarnation, from };
}

function dead(id: string, incarnation: number, from: string): Rumour {
  return { type: 'dead', id, incarnation, from };
}
