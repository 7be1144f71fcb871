import type { Socket } from 'node:net';
import { encodePeerMessageInto, peerFrameBytes, type OutgoingPeerMessage } from './peer-codec.js';

/**
 * A burst is sent in parts of at most this many frames (or one slab), so the
 * other side starts working on the first part while this side prepares the
 * rest: one big batch would leave each side idle while the other works.
 */
const FLUSH_FRAMES = 8;
/** Bytes of one slab frames are encoded into. */
const SLAB_BYTES = 64 * 1024;

/**
 * Coalesces the frames written to a socket during one turn of the event loop
 * into a single write, sent once the turn has handled all its I/O (the check
 * phase). With many requests in flight, replies arrive in bursts and their
 * callers send the next requests in the same turn; with many clients, the
 * requests read from all of them in one turn go out together. One syscall
 * then carries them all instead of one each; a write also pays for waking
 * the reader. (Flushing at the end of each microtask turn sent one write per
 * request read and measured slower under many clients.)
 *
 * Frames are encoded straight into a 64 KiB slab, and each write is a view of
 * the slab's next bytes, so a slab serves many writes. An ArrayBuffer per
 * frame and per batch made V8's young-generation sweeps, and so its pauses,
 * several times longer. Written bytes are never touched again; a full slab is
 * left to the writes still holding it.
 */
export class BatchedWriter {
  readonly #socket: Socket;
  #slab = Buffer.allocUnsafeSlow(0);
  /** First byte of the batch not yet written. */
  #start = 0;
  /** End of the encoded bytes. */
  #end = 0;
  #frames = 0;
  #scheduled = false;
  readonly #flushLater = () => this.flush();

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /**
   * Encodes a message; it is sent once this turn of the event loop has handled its I/O.
   * Throws ERR_INVALID_ARGUMENT, queuing nothing, for a message too large.
   */
  write(message: OutgoingPeerMessage, requestId?: number): void {
    const bytes = peerFrameBytes(message);
    if (bytes > SLAB_BYTES) {
      this.flush();
      const frame = Buffer.allocUnsafeSlow(bytes);
      encodePeerMessageInto(frame, 0, bytes, message, requestId);
      this.#send(frame);
      return;
    }
    if (this.#end + bytes > this.#slab.byteLength) {
      this.flush();
      this.#slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#start = this.#end = 0;
    }
    encodePeerMessageInto(this.#slab, this.#end, bytes, message, requestId);
    this.#end += bytes;
    this.#frames += 1;
    if (this.#frames >= FLUSH_FRAMES) {
      this.flush();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flushLater);
  }

  /** Bytes written and not yet handed to the kernel: what is batched here plus the socket's own buffer. */
  get unsentBytes(): number {
    return this.#end - this.#start + this.#socket.writableLength;
  }

  /** Sends what is batched now, without waiting for the end of the turn. */
  flush(): void {
    this.#scheduled = false;
    if (this.#end === this.#start) return;
    const batch = this.#slab.subarray(this.#start, this.#end);
    this.#start = this.#end;
    this.#frames = 0;
    this.#send(batch);
  }

  #send(bytes: Buffer): void {
    if (!this.#socket.destroyed) this.#socket.write(bytes);
  }
}
