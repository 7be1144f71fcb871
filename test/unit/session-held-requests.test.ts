import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { describe, it } from 'node:test';
import { encodeAddRequest, encodeMessage, Operation } from '../../src/protocol/codec.js';
import { ResponseBatch } from '../../src/protocol/response-batch.js';
import { SessionConnection } from '../../src/protocol/session-connection.js';
import { SessionOperations } from '../../src/protocol/session-operations.js';
import { silentLogger } from '../helpers/engine.js';

/** Just enough of a socket for a SessionConnection: data events in, writes counted, pause and resume recorded. */
class ScriptedSocket extends EventEmitter {
  destroyed = false;
  paused = false;
  pauses = 0;
  writableLength = 0;
  readonly remoteAddress = '127.0.0.1';
  readonly written: Buffer[] = [];
  pause(): this {
    this.pauses++;
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  isPaused(): boolean {
    return this.paused;
  }
  write(chunk: Buffer): boolean {
    this.written.push(Buffer.from(chunk));
    return true;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

const request = (uid: number, operation: Operation, data: Uint8Array) =>
  encodeMessage({ isResponse: false, requestUid: uid, operation, data });

describe('session connection: requests held behind one that waits', () => {
  it('reads on while a request waits and what is held stays under 64 KiB; stops past it; reads on once answered', async () => {
    let release: (value: Uint8Array) => void = () => undefined;
    const operations = new SessionOperations({
      get: () => new Promise<Uint8Array>((resolve) => (release = resolve)),
      put: () => true,
      delete: () => false,
    });
    const socket = new ScriptedSocket();
    new SessionConnection(
      socket as unknown as net.Socket,
      operations,
      silentLogger,
      new ResponseBatch(),
      { hold: () => false },
      Buffer.alloc(0),
    );
    socket.emit('data', request(1, Operation.GET, Buffer.from('slow')));
    assert.equal(socket.pauses, 0, 'a client sending one request at a time is not paused while its request waits');

    const add = (uid: number) =>
      request(uid, Operation.ADD, encodeAddRequest(60_000, Buffer.from(`id-${uid}`), new Uint8Array(20_000)));
    socket.emit('data', Buffer.concat([add(2), add(3)]));
    assert.equal(socket.pauses, 0, 'about 40 KB held: reading goes on');
    socket.emit('data', Buffer.concat([add(4), add(5)]));
    assert.equal(socket.paused, true, 'about 80 KB held: reading stops');

    release(Buffer.from('session'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(socket.paused, false, 'every held request answered: reading goes on');
    assert.equal(socket.written.length > 0, true);
  });
});
