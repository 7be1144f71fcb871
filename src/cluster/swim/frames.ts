import { DistCacheError, ErrorCode } from '../../errors.js';

/** Bytes of the big-endian length before each frame. */
export const LENGTH_BYTES = 4;
/** A frame's buffer starts this large (or as large as the frame) and doubles as its bytes come. */
const FIRST_CAPACITY = 64 * 1024;

/** `payload` behind a big-endian u32 length. */
export function frame(payload: Uint8Array): Uint8Array {
  const framed = new Uint8Array(LENGTH_BYTES + payload.byteLength);
  new DataView(framed.buffer).setUint32(0, payload.byteLength);
  framed.set(payload, LENGTH_BYTES);
  return framed;
}

/**
 * Splits a byte stream into length-prefixed frames, however the stream is
 * chunked: pure and incremental. Each byte is copied a bounded number of
 * times whatever the chunk sizes (a frame sent a few bytes at a time costs
 * what it costs sent at once), and the buffer of the frame in progress is at
 * most twice the bytes received of it (a header that declares a large frame
 * reserves nothing until the bytes come).
 */
export class FrameReader {
  readonly #maxFrame: number;
  readonly #header = new Uint8Array(LENGTH_BYTES);
  #headerFilled = 0;
  /** The frame in progress, once its header is read. */
  #payload: Uint8Array | undefined;
  #length = 0;
  #filled = 0;

  /** Frames longer than `maxFrame` bytes are refused. */
  constructor(maxFrame: number) {
    this.#maxFrame = maxFrame;
  }

  /** Bytes held for the frame in progress. */
  get buffered(): number {
    return this.#payload === undefined ? this.#headerFilled : this.#payload.byteLength;
  }

  /**
   * Takes the next bytes of the stream; returns the frames they complete.
   * Throws a DistCacheError `ERR_PROTOCOL` at a header over the frame bound:
   * the stream cannot be read further.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.#payload === undefined) {
        at += this.#readHeader(chunk.subarray(at));
        if (this.#payload === undefined) break;
      }
      const take = Math.min(this.#length - this.#filled, chunk.byteLength - at);
      this.#reserve(this.#filled + take);
      this.#payload.set(chunk.subarray(at, at + take), this.#filled);
      this.#filled += take;
      at += take;
      if (this.#filled === this.#length) {
        frames.push(this.#payload.subarray(0, this.#length));
        this.#payload = undefined;
      }
    }
    return frames;
  }

  /** Reads header bytes from the start of `bytes`; returns how many it took. */
  #readHeader(bytes: Uint8Array): number {
    const take = Math.min(LENGTH_BYTES - this.#headerFilled, bytes.byteLength);
    this.#header.set(bytes.subarray(0, take), this.#headerFilled);
    this.#headerFilled += take;
    if (this.#headerFilled < LENGTH_BYTES) return take;
    this.#headerFilled = 0;
    const length = new DataView(this.#header.buffer).getUint32(0);
    if (length > this.#maxFrame)
      throw new DistCacheError(ErrorCode.PROTOCOL, `SWIM frame of ${length} bytes, over ${this.#maxFrame}`);
    this.#length = length;
    this.#filled = 0;
    this.#payload = new Uint8Array(Math.min(length, FIRST_CAPACITY));
    return take;
  }

  /** Grows the frame's buffer to hold `bytes`, doubling, never past the frame's length. */
  #reserve(bytes: number): void {
    const payload = this.#payload!;
    if (bytes <= payload.byteLength) return;
    const grown = new Uint8Array(Math.min(this.#length, Math.max(bytes, payload.byteLength * 2)));
    grown.set(payload.subarray(0, this.#filled));
    this.#payload = grown;
  }
}
