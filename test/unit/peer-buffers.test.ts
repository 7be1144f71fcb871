import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { BatchedWriter } from '../../src/cluster/batched-writer.js';
import { PeerClient } from '../../src/cluster/peer-client.js';
import { MessageType, PeerMessageDecoder, type PeerMessage } from '../../src/cluster/peer-codec.js';
import { PeerServer } from '../../src/cluster/peer-server.js';
import { ValueSlab } from '../../src/cluster/value-slab.js';
import { silentLogger } from '../helpers/engine.js';
import { answeringGets } from '../helpers/peer-handler.js';

/** VALUE replies of many sizes: small ones share slabs, the 70 KB one needs a buffer of its own. */
function replies(): PeerMessage[] {
  const sizes = [0, 1, 1000, 3000, 5000, 70_000, 1024, 64 * 1024 - 18, 7];
  return Array.from({ length: 200 }, (_, i) => {
    const value = new Uint8Array(sizes[i % sizes.length]!).fill(i % 251);
    return { type: MessageType.VALUE, requestId: i + 1, found: true, expiresAt: i, value };
  });
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Writes the messages a few per event-loop turn, as replies arrive. */
async function writeInTurns(writer: BatchedWriter, messages: PeerMessage[]): Promise<void> {
  for (let i = 0; i < messages.length; i++) {
    writer.write(messages[i]!);
    if (i % 5 === 4) await nextTurn();
  }
  await nextTurn();
}

describe('BatchedWriter', () => {
  it('sends every frame intact over a real socket, across slab boundaries and oversized frames', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    const [accepted] = (await once(server, 'connection')) as [net.Socket];
    const sent = replies();
    const decoder = new PeerMessageDecoder();
    const received: PeerMessage[] = [];
    const done = new Promise<void>((resolve) =>
      accepted.on(
        'data',
        (chunk: Buffer) => (received.push(...decoder.push(chunk)), received.length === sent.length && resolve()),
      ),
    );
    try {
      await writeInTurns(new BatchedWriter(client), sent);
      await done;
      assert.deepEqual(
        received.map((message) =>
          message.type === MessageType.VALUE
            ? [message.requestId, Buffer.from(message.value).toString('hex')]
            : message,
        ),
        sent.map((message) =>
          message.type === MessageType.VALUE
            ? [message.requestId, Buffer.from(message.value).toString('hex')]
            : message,
        ),
      );
    } finally {
      client.destroy();
      accepted.destroy();
      server.close();
    }
  });

  it('never changes bytes it handed to the socket', async () => {
    const writes: Buffer[] = [];
    const socket = { destroyed: false, write: (bytes: Buffer) => (writes.push(bytes), true) } as unknown as net.Socket;
    const sent = replies();
    const writer = new BatchedWriter(socket);
    const snapshots: string[] = [];
    let seen = 0;
    for (let i = 0; i < sent.length; i++) {
      writer.write(sent[i]!);
      if (i % 5 === 4) await nextTurn();
      for (; seen < writes.length; seen++) snapshots.push(writes[seen]!.toString('hex'));
    }
    await nextTurn();
    for (; seen < writes.length; seen++) snapshots.push(writes[seen]!.toString('hex'));
    assert.deepEqual(
      writes.map((bytes) => bytes.toString('hex')),
      snapshots,
    );
    assert.equal(new PeerMessageDecoder().push(Buffer.concat(writes)).length, sent.length);
  });

  it('sends a burst of small frames in writes of 8 frames', async () => {
    const writes: Buffer[] = [];
    const writer = new BatchedWriter({
      destroyed: false,
      write: (bytes: Buffer) => writes.push(bytes),
    } as unknown as net.Socket);
    for (let i = 0; i < 20; i++)
      writer.write({ type: MessageType.GET, requestId: i + 1, keyspace: 'ks', key: `k${i}` });
    assert.equal(writes.length, 2);
    await Promise.resolve();
    assert.equal(writes.length, 2, 'the rest waits for the end of the event-loop turn, not of the microtask queue');
    await nextTurn();
    assert.deepEqual(
      writes.map((bytes) => new PeerMessageDecoder().push(bytes).length),
      [8, 8, 4],
    );
  });

  it('refuses a message larger than a frame, queuing nothing', () => {
    const writes: Buffer[] = [];
    const writer = new BatchedWriter({
      destroyed: false,
      write: (bytes: Buffer) => writes.push(bytes),
    } as unknown as net.Socket);
    assert.throws(
      () =>
        writer.write({
          type: MessageType.VALUE,
          requestId: 1,
          found: true,
          expiresAt: 0,
          value: new Uint8Array(17 << 20),
        }),
      { code: 'ERR_INVALID_ARGUMENT' },
    );
    assert.equal(writes.length, 0);
  });
});

describe('PeerServer.close', () => {
  it('sends the answers of the requests it drained before closing their connections', async () => {
    const handler = answeringGets(
      () =>
        new Promise<{ bytes: Uint8Array; expiresAt: number }>((resolve) =>
          setTimeout(() => resolve({ bytes: Uint8Array.of(7), expiresAt: 0 }), 50),
        ),
    );
    const server = new PeerServer(handler, { kind: 'none' }, silentLogger);
    await server.listen('127.0.27.5', 3320);
    const client = new PeerClient('127.0.27.5:3320', { kind: 'none' });
    try {
      await client.verify();
      const replies = Array.from({ length: 3 }, (_, i) =>
        client.request({ type: MessageType.GET, keyspace: 'ks', key: `k${i}` }, 5_000),
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
      await server.close(2_000);
      for (const reply of await Promise.all(replies))
        assert.deepEqual(reply.type === MessageType.VALUE && [...reply.value], [7]);
    } finally {
      client.close();
    }
  });
});

describe('ValueSlab', () => {
  it('copies are private: changing the source or later copies leaves earlier copies intact', () => {
    const slab = new ValueSlab();
    const source = new Uint8Array(1000);
    const copies = Array.from({ length: 300 }, (_, i) => slab.copy(source.fill(i % 256)));
    source.fill(255);
    copies.forEach((copy, i) =>
      assert.ok(
        copy.every((byte) => byte === i % 256),
        `copy ${i} changed`,
      ),
    );
    assert.ok(new Set(copies.map((copy) => copy.buffer)).size < 10, 'small copies share slabs');
  });

  it('gives a large value a buffer of exactly its size', () => {
    const copy = new ValueSlab().copy(new Uint8Array(10_000).fill(3));
    assert.equal(copy.buffer.byteLength, 10_000);
    assert.equal(copy[9_999], 3);
  });
});
