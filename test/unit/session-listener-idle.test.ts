import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DcMessageDecoder, encodeMessage, Operation, type DcMessage } from '../../src/protocol/codec.js';
import { SessionListener } from '../../src/protocol/listener.js';
import { SessionOperations } from '../../src/protocol/session-operations.js';
import { silentLogger, sleep } from '../helpers/engine.js';

const IDLE_MS = 200;
const directory = mkdtempSync(join(tmpdir(), 'session-idle-'));

describe('session listener idle closing', () => {
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('closes a connection that sends nothing no sooner than idleTimeout after it connected, and within a quarter more', async () => {
    const idleMs = 400;
    const path = join(directory, 'silent.sock');
    const created = performance.now(); // the listener's sweeps run every idleMs / 4 from its creation
    const listener = new SessionListener(
      { listen: [`UNIX:${path}`], tls: undefined, socket: undefined, idleTimeout: idleMs, maxConnections: 10 },
      new SessionOperations({ get: () => undefined, put: () => true, delete: () => false }),
      silentLogger,
    );
    await listener.start();
    await sleep(created + idleMs / 4 - 20 - performance.now()); // connect 20 ms before a sweep
    const client = net.connect({ path });
    client.on('error', () => undefined);
    try {
      await once(client, 'connect');
      const connected = performance.now();
      await once(client, 'close');
      const closedAfter = performance.now() - connected;
      assert.ok(closedAfter >= idleMs - 1, `closed ${Math.round(closedAfter)} ms after it connected`);
      assert.ok(closedAfter <= idleMs * 1.25 + 100, `closed only ${Math.round(closedAfter)} ms after it connected`);
    } finally {
      client.destroy();
      await listener.stop();
    }
  });

  it('keeps open a connection whose answers drain to a client that reads them slowly, longer than idleTimeout', async () => {
    const path = join(directory, 'slow-reader.sock');
    const session = new Uint8Array(30_000).fill(7);
    const listener = new SessionListener(
      { listen: [`UNIX:${path}`], tls: undefined, socket: undefined, idleTimeout: IDLE_MS, maxConnections: 10 },
      new SessionOperations({ get: () => session, put: () => true, delete: () => false }),
      silentLogger,
    );
    await listener.start();
    const client = net.connect({ path });
    client.on('error', () => undefined);
    try {
      // 100 GETs in one write: one read for the listener, then about 3 MB of answers, far over the output bound
      // and the socket buffers, that go out as the client reads them.
      const requests = 100;
      client.write(
        Buffer.concat(
          Array.from({ length: requests }, (_, i) =>
            encodeMessage({ isResponse: false, requestUid: i + 1, operation: Operation.GET, data: Buffer.from('id') }),
          ),
        ),
      );
      const decoder = new DcMessageDecoder();
      const answers: DcMessage[] = [];
      const started = performance.now();
      let closedAfter: number | undefined;
      client.on('close', () => (closedAfter = performance.now() - started));
      // A slow reader: it takes a pause after each chunk, so reading every answer takes several idle periods.
      client.on('data', (chunk: Buffer) => {
        answers.push(...decoder.push(chunk));
        client.pause();
        setTimeout(() => client.resume(), 15);
      });
      while (answers.length < requests && closedAfter === undefined) await sleep(20);
      assert.equal(
        closedAfter,
        undefined,
        `closed after ${Math.round(closedAfter ?? 0)} ms with ${answers.length} of ${requests} answers read`,
      );
      assert.equal(answers.length, requests);
      const took = performance.now() - started;
      assert.ok(took > 2 * IDLE_MS, `the answers took ${Math.round(took)} ms, so the reader was slow enough to tell`);
    } finally {
      client.destroy();
      await listener.stop();
    }
  });
});
