import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { readIntoBuffer } from '../../src/net/buffer-reads.js';
import { sleep } from '../helpers/engine.js';

const HOST = '127.0.122.31';
const directory = mkdtempSync(join(tmpdir(), 'buffer-reads-'));

/** A server whose accepted sockets read into `buffer`; resolves with the accepted socket, the client, and what was read. */
async function connectedPair(address: net.ListenOptions, buffer: Buffer) {
  const server = net.createServer();
  server.listen(address);
  await once(server, 'listening');
  const reads: string[] = [];
  let dataEvents = 0;
  let took = false;
  const accepted = new Promise<net.Socket>((resolve) =>
    server.once('connection', (socket) => {
      took = readIntoBuffer(socket, buffer, (bytes) => reads.push(bytes.toString()));
      socket.on('data', () => dataEvents++);
      resolve(socket);
    }),
  );
  const client = net.connect(
    address.path === undefined
      ? { host: HOST, port: (server.address() as net.AddressInfo).port }
      : { path: address.path },
  );
  const socket = await accepted;
  return { server, socket, client, reads, took: () => took, dataEvents: () => dataEvents };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(5);
  assert.ok(condition(), 'condition not reached in 1 s');
}

describe('readIntoBuffer: accepted sockets read into one buffer', () => {
  after(() => rmSync(directory, { recursive: true, force: true }));

  for (const [name, address] of [
    ['TCP', { host: HOST, port: 0 }],
    ['UNIX', { path: join(directory, 'reads.sock') }],
  ] as const) {
    it(`${name}: hands each read to the callback as a view of the buffer, with no data events; pause, resume and end work`, async () => {
      const buffer = Buffer.alloc(1024);
      const pair = await connectedPair(address, buffer);
      try {
        assert.equal(pair.took(), true, 'this Node supports reading into a buffer of ours');
        pair.client.write('first');
        await until(() => pair.reads.length === 1);
        assert.deepEqual(pair.reads, ['first']);
        assert.equal(buffer.subarray(0, 5).toString(), 'first', 'the bytes landed in our buffer');

        pair.socket.pause();
        pair.client.write('second');
        await sleep(50);
        assert.deepEqual(pair.reads, ['first'], 'nothing is read while paused');
        pair.socket.resume();
        await until(() => pair.reads.length === 2);
        assert.equal(pair.reads[1], 'second');

        const ended = once(pair.socket, 'end');
        pair.client.end();
        await ended;
        assert.equal(pair.dataEvents(), 0);
      } finally {
        pair.client.destroy();
        pair.socket.destroy();
        pair.server.close();
      }
    });
  }

  it('declines a TLS socket, which then reads through data events', () => {
    const socket = new tls.TLSSocket(new net.Socket());
    try {
      assert.equal(
        readIntoBuffer(socket, Buffer.alloc(16), () => undefined),
        false,
      );
    } finally {
      socket.destroy();
    }
  });
});
