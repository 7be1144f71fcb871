import { DistCacheError, ErrorCode } from '../errors.js';
import { TOMBSTONE, type VersionedCopy } from '../keyspace/versions.js';
import { isVersion } from '../lib/hybrid-logical-clock.js';
import { ValueSlab } from './value-slab.js';

/**
 * The field encodings of the peer codec (peer-codec.ts), pure: strings are
 * UTF-8 behind a u16 length, numbers big-endian, times and versions f64. A
 * versioned copy is `u8 kind | f64 expiresAt | f64 version` then its bytes
 * (kind 0: no copy, 1: a value, 2: "does not exist", 3: a tombstone).
 */

const decoder = new TextDecoder('utf-8', { fatal: true });
/** Values of replies are read once by the requester and dropped: they share slabs. */
const replySlab = new ValueSlab();

const CopyKind = { NONE: 0, VALUE: 1, NOT_FOUND: 2, TOMBSTONE: 3 } as const;
type CopyKind = (typeof CopyKind)[keyof typeof CopyKind];

/** Bytes of a copy's header: kind, expiry, version. */
export const COPY_HEADER_BYTES = 1 + 8 + 8;

export function protocolError(message: string): DistCacheError {
  return new DistCacheError(ErrorCode.PROTOCOL, `peer protocol: ${message}`);
}

/** Writes a u16-prefixed UTF-8 string at `at`; returns the offset after it. */
export function writeString(frame: Buffer, at: number, value: string): number {
  const length = frame.write(value, at + 2, 'utf8');
  frame.writeUInt16BE(length, at);
  return at + 2 + length;
}

/** Copies bytes in at `at`; returns the offset after them. */
export function writeRaw(frame: Buffer, at: number, bytes: Uint8Array): number {
  frame.set(bytes, at);
  return at + bytes.byteLength;
}

/** A u16-prefixed UTF-8 string's size; throws for one that does not fit the prefix. */
export function stringBytes(value: string): number {
  const length = Buffer.byteLength(value, 'utf8');
  if (length > 0xffff)
    throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, `peer protocol: string of ${length} bytes is too long`);
  return 2 + length;
}

/** Writes a copy's header (kind, expiry, version) at `at`; returns the offset after it. The bytes follow, as the message says. */
export function writeCopyHeader(frame: Buffer, at: number, copy: VersionedCopy | undefined): number {
  at = frame.writeUInt8(kindOf(copy), at);
  at = frame.writeDoubleBE(copy?.expiresAt ?? 0, at);
  return frame.writeDoubleBE(copy?.version ?? 0, at);
}

/** The bytes a copy carries after its header: a value's, else none. */
export function copyValue(copy: VersionedCopy | undefined): Uint8Array {
  return kindOf(copy) === CopyKind.VALUE ? copy!.value! : EMPTY;
}

function kindOf(copy: VersionedCopy | undefined): CopyKind {
  if (copy === undefined) return CopyKind.NONE;
  if (copy.value === TOMBSTONE) return CopyKind.TOMBSTONE;
  return copy.value === null ? CopyKind.NOT_FOUND : CopyKind.VALUE;
}

const EMPTY = new Uint8Array(0);

/** Reads the fields of one frame in order; every read past the end, and every bad field, is ERR_PROTOCOL. */
export class FrameReader {
  readonly #frame: Buffer;
  #offset = 0;

  constructor(frame: Buffer) {
    this.#frame = frame;
  }

  u8(): number {
    return this.#need(1).readUInt8(this.#advance(1));
  }

  flag(): boolean {
    const value = this.u8();
    if (value > 1) throw protocolError(`flag byte ${value} is neither 0 nor 1`);
    return value === 1;
  }

  /** A byte of bit flags, none of them outside `known`. */
  flags(known: number): number {
    const value = this.u8();
    if ((value & ~known) !== 0) throw protocolError(`flag byte ${value} has unknown bits`);
    return value;
  }

  u16(): number {
    return this.#need(2).readUInt16BE(this.#advance(2));
  }

  u32(): number {
    return this.#need(4).readUInt32BE(this.#advance(4));
  }

  f64(): number {
    const value = this.#need(8).readDoubleBE(this.#advance(8));
    if (!Number.isFinite(value) || value < 0) throw protocolError(`expiry ${value} is not a time`);
    return value;
  }

  version(): number {
    const value = this.#need(8).readDoubleBE(this.#advance(8));
    if (!isVersion(value)) throw protocolError(`version ${value} is not a non-negative safe integer`);
    return value;
  }

  string(): string {
    // Decoded straight from the frame: the string keeps nothing of it, so no copy is needed.
    const bytes = this.#view(this.u16());
    try {
      return decoder.decode(bytes);
    } catch {
      throw protocolError('string is not valid UTF-8');
    }
  }

  /** A copy of the next `length` bytes: the frame is a view of a socket chunk that must not be retained. */
  bytes(length: number): Uint8Array {
    this.#need(length);
    const start = this.#advance(length);
    const offset = this.#frame.byteOffset + start;
    return new Uint8Array(this.#frame.buffer.slice(offset, offset + length));
  }

  rest(): Uint8Array {
    return this.bytes(this.#frame.byteLength - this.#offset);
  }

  /** A u16 count of the items that follow, at most `max`. */
  count(max: number): number {
    const count = this.u16();
    if (count > max) throw protocolError(`${count} items exceed the ${max} allowed`);
    return count;
  }

  /** Like {@link bytes}, for a value its receiver keeps only briefly: the copy may share a slab. */
  bytesInSlab(length: number): Uint8Array {
    return replySlab.copy(this.#view(length));
  }

  /** Like {@link rest}, for a value its receiver keeps only briefly: the copy may share a slab. */
  restInSlab(): Uint8Array {
    const start = this.#offset;
    this.#advance(this.#frame.byteLength - start);
    return replySlab.copy(this.#frame.subarray(start));
  }

  /**
   * A copy: its header, then its bytes (a value's `valueLength` bytes, or
   * the rest of the frame when undefined); undefined for kind "none".
   */
  copy(valueLength?: () => number): VersionedCopy | undefined {
    const kind = this.u8();
    const expiresAt = this.f64();
    const version = this.version();
    const bytes = valueLength === undefined ? this.rest() : this.bytes(valueLength());
    if (kind !== CopyKind.VALUE && bytes.byteLength > 0) throw protocolError(`a copy of kind ${kind} carries bytes`);
    switch (kind) {
      case CopyKind.NONE:
        return undefined;
      case CopyKind.VALUE:
        return { value: bytes, expiresAt, version };
      case CopyKind.NOT_FOUND:
        return { value: null, expiresAt, version };
      case CopyKind.TOMBSTONE:
        return { value: TOMBSTONE, expiresAt, version };
      default:
        throw protocolError(`copy kind ${kind} is unknown`);
    }
  }

  end(): void {
    if (this.#offset !== this.#frame.byteLength)
      throw protocolError(`${this.#frame.byteLength - this.#offset} unexpected trailing bytes`);
  }

  #need(bytes: number): Buffer {
    if (this.#offset + bytes > this.#frame.byteLength) throw protocolError('frame ends inside a field');
    return this.#frame;
  }

  #advance(bytes: number): number {
    const at = this.#offset;
    this.#offset += bytes;
    return at;
  }

  /** The next `length` bytes as a view into the frame, valid only while the frame is. */
  #view(length: number): Buffer {
    this.#need(length);
    const start = this.#advance(length);
    return this.#frame.subarray(start, start + length);
  }
}
