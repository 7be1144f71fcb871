import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { encodeMessage, Operation } from '../../src/protocol/codec.js';
import { ResponseBatch } from '../../src/protocol/response-batch.js';

/** A socket stand-in that keeps each write. */
function recorder(): { socket: Writable; writes: Buffer[] } {
  const writes: Buffer[] = [];
  const socket = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(Buffer.from(chunk));
      done();
    },
  });
  return { socket, writes };
}

const response = (requestUid: number, data: Uint8Array) =>
  encodeMessage({ isResponse: true, requestUid, operation: Operation.GET, data });

it('writes the responses added since the last write as one write, byte for byte as encodeMessage makes them', () => {
  const { socket, writes } = recorder();
  const batch = new ResponseBatch();
  const datas = [Uint8Array.of(1), Buffer.alloc(3000, 7), Buffer.from('session')];
  datas.forEach((data, i) => batch.add(socket, i + 1, Operation.GET, data));
  assert.equal(writes.length, 0, 'nothing is written before the batch ends');
  batch.flushTo(socket);
  assert.equal(writes.length, 1);
  assert.deepEqual(writes[0], Buffer.concat(datas.map((data, i) => response(i + 1, data))));
  batch.flushTo(socket);
  assert.equal(writes.length, 1, 'an empty batch writes nothing');
});

it('writes a large batch as it goes and starts a new slab when one is full, losing and reordering nothing', () => {
  const { socket, writes } = recorder();
  const batch = new ResponseBatch();
  const datas = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1000 + i * 700, i));
  datas.forEach((data, i) => batch.add(socket, i + 1, Operation.GET, data));
  batch.flushTo(socket);
  assert.ok(writes.length > 1 && writes.length < datas.length, `${writes.length} writes`);
  assert.deepEqual(Buffer.concat(writes), Buffer.concat(datas.map((data, i) => response(i + 1, data))));
});
