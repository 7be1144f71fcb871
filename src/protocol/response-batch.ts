import type { Writable } from 'node:stream';
import { encodedLength, encodeMessageInto, type Operation } from './codec.js';

/** Bytes of each slab responses are encoded into; the largest response (32,992 bytes) fits. */
const SLAB_BYTES = 64 * 1024;
/** A batch this large is written at once, so that the socket's own output bound sees it. */
const FLUSH_BYTES = 16 * 1024;

/**
 * Responses encoded one after another into a preallocated slab and written
 * as one socket write per batch, instead of one buffer and one write each.
 * A region once written is never reused (the socket may still hold it), and
 * a full slab is replaced, not recycled. One batch serves every connection of
 * a listener: a connection adds its answers and writes them in the same turn
 * ({@link add} ... {@link flushTo}), so batches never interleave.
 */
export class ResponseBatch {
  #slab: Buffer | undefined;
  /** The start of the responses not written yet, and their end. */
  #start = 0;
  #end = 0;

  /** Encodes a response into the batch; writes the batch to `socket` first when the slab is full, and after once it is large. */
  add(socket: Writable, requestUid: number, operation: Operation, data: Uint8Array): void {
    const length = encodedLength(data.byteLength);
    if (this.#slab === undefined || this.#end + length > this.#slab.length) {
      this.flushTo(socket);
      this.#slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#start = this.#end = 0;
    }
    this.#end = encodeMessageInto(this.#slab, this.#end, true, requestUid, operation, data);
    if (this.#end - this.#start >= FLUSH_BYTES) this.flushTo(socket);
  }

  /** Writes the responses added since the last write, if any, to `socket`. */
  flushTo(socket: Writable): void {
    if (this.#end === this.#start) return;
    const batch = this.#slab!.subarray(this.#start, this.#end);
    this.#start = this.#end;
    if (!socket.destroyed) socket.write(batch);
  }
}
