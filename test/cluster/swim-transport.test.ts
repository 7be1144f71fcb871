/**
 * The SWIM transport on a real libp2p host, fed by another host that sends
 * what it likes: what one stream can cost the node that reads it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHost, type Libp2pHost } from '../../src/cluster/libp2p-host.js';
import { encodeSwimMessage } from '../../src/cluster/swim/codec.js';
import { frame } from '../../src/cluster/swim/frames.js';
import type { SwimMessage } from '../../src/cluster/swim/messages.js';
import { SwimTransport } from '../../src/cluster/swim-transport.js';
import { silentLogger } from '../helpers/engine.js';
import { SwimStranger } from '../helpers/swim-stranger.js';

const NODE = '127.0.123.40:3322';

const ping = (seq: number): SwimMessage => ({
  type: 'ping',
  seq,
  target: '127.0.123.40:3320',
  from: { id: '127.0.123.41:3320', address: '127.0.123.41:3322', incarnation: 1, meta: '' },
  rumours: [],
});

describe('the SWIM transport, read by a real libp2p host', () => {
  let host: Libp2pHost;
  let transport: SwimTransport;
  let stranger: SwimStranger;
  const received: SwimMessage[] = [];
  let onReceive: (() => void) | undefined;

  before(async () => {
    host = await createHost('127.0.123.40', 3322, undefined);
    transport = new SwimTransport(
      host,
      (message) => {
        received.push(message);
        onReceive?.();
      },
      silentLogger,
    );
    await transport.start();
    stranger = await SwimStranger.start('127.0.123.41');
  });
  after(async () => {
    await stranger?.stop();
    transport?.close();
    await host?.stop();
  });

  /** Resolves once a message with `seq` arrived, or rejects after `ms`. */
  function arrival(seq: number, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ping ${seq} not read within ${ms} ms`)), ms);
      onReceive = () => {
        if (!received.some((message) => message.type === 'ping' && message.seq === seq)) return;
        clearTimeout(timer);
        resolve();
      };
      onReceive();
    });
  }

  it('copies the bytes of a 1 MB frame sent 64 bytes at a time a bounded number of times, not once per piece', async () => {
    // Counts what the whole process copies with Uint8Array#set while the frame is read: libp2p's
    // own copies are linear in the bytes; one copy of everything buffered per piece is 16,384 × 0.5 MB.
    const large = new Uint8Array(1024 * 1024).fill(0xc0);
    const bytes = Buffer.concat([frame(large), frame(encodeSwimMessage(ping(1)))]);
    const set = Uint8Array.prototype.set;
    let copied = 0;
    Uint8Array.prototype.set = function (this: Uint8Array, source: ArrayLike<number>, offset?: number) {
      copied += source.length;
      return set.call(this, source, offset);
    };
    try {
      const read = arrival(1, 30_000);
      await stranger.sendBytes(NODE, bytes, 64);
      await read;
    } finally {
      Uint8Array.prototype.set = set;
    }
    assert.ok(copied < 32 * bytes.byteLength, `copied ${copied} bytes to read ${bytes.byteLength}`);
  });

  it('does not send a message over the frame bound, which would make the peer end the stream with what follows', async () => {
    const sender = await createHost('127.0.123.42', 0, undefined);
    const outbound = new SwimTransport(sender, () => undefined, silentLogger);
    try {
      const from = { id: '127.0.123.42:3320', address: '127.0.123.42:3322', incarnation: 1, meta: '' };
      const members = Array.from({ length: 5_000 }, (_, i) => ({ ...from, id: `m${i}`, meta: 'x'.repeat(1_000) }));
      const oversized: SwimMessage = {
        type: 'sync',
        reply: true,
        from,
        rumours: [],
        members: members.map((member) => ({ ...member, state: 'alive' as const })),
      };
      const read = arrival(2, 10_000);
      assert.equal(await outbound.send(NODE, oversized), undefined);
      assert.equal(await outbound.send(NODE, ping(2)), undefined);
      await read;
    } finally {
      outbound.close();
      await sender.stop();
    }
  });
});
