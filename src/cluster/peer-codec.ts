import { DistCacheError, ErrorCode } from '../errors.js';

/**
 * The peer transport's wire format, pure: bytes in, messages out, no sockets
 * and no timers. A frame is
 *
 *   u32 length | u8 type | u32 requestId | payload (length - 5 bytes)
 *
 * big-endian, `length` counting everything after itself. Strings are UTF-8
 * behind a u16 length; a value is the rest of the frame.
 */
export const PEER_PROTOCOL_VERSION = 1;

/** Largest frame accepted: a 16 MiB value plus its header. Larger values are not sent between nodes. */
export const MAX_PEER_FRAME_BYTES = 16 * 1024 * 1024 + 64 * 1024;

/** Bytes of a handshake nonce and proof. */
export const NONCE_BYTES = 32;

export const MessageType = {
  HELLO: 1,
  HELLO_REPLY: 2,
  AUTH: 3,
  GET: 10,
  PUT: 11,
  DELETE: 12,
  DELETE_KEYSPACE: 13,
  VALUE: 20,
  OK: 21,
  ERROR: 22,
} as const;

/** Every message the peer transport carries. */
export type PeerMessage =
  | { type: typeof MessageType.HELLO; requestId: number; version: number; nonce: Uint8Array }
  | { type: typeof MessageType.HELLO_REPLY; requestId: number; version: number; nonce: Uint8Array; proof: Uint8Array }
  | { type: typeof MessageType.AUTH; requestId: number; proof: Uint8Array }
  | { type: typeof MessageType.GET; requestId: number; keyspace: string; key: string }
  | { type: typeof MessageType.PUT; requestId: number; keyspace: string; key: string; expiresAt: number; value: Uint8Array }
  | { type: typeof MessageType.DELETE; requestId: number; keyspace: string; key: string }
  | { type: typeof MessageType.DELETE_KEYSPACE; requestId: number; keyspace: string }
  | { type: typeof MessageType.VALUE; requestId: number; found: boolean; expiresAt: number; value: Uint8Array }
  | { type: typeof MessageType.OK; requestId: number; flag: boolean }
  | { type: typeof MessageType.ERROR; requestId: number; code: string; message: string };

const HEADER_BYTES = 9;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes one message as one frame. */
export function encodePeerMessage(message: PeerMessage): Buffer {
  const writer = new FrameWriter(message.type, message.requestId);
  switch (message.type) {
    case MessageType.HELLO:
      writer.u16(message.version).raw(message.nonce);
      break;
    case MessageType.HELLO_REPLY:
      writer.u16(message.version).raw(message.nonce).raw(message.proof);
      break;
    case MessageType.AUTH:
      writer.raw(message.proof);
      break;
    case MessageType.GET:
    case MessageType.DELETE:
      writer.string(message.keyspace).string(message.key);
      break;
    case MessageType.PUT:
      writer.string(message.keyspace).string(message.key).f64(message.expiresAt).raw(message.value);
      break;
    case MessageType.DELETE_KEYSPACE:
      writer.string(message.keyspace);
      break;
    case MessageType.VALUE:
      writer.u8(message.found ? 1 : 0).f64(message.expiresAt).raw(message.value);
      break;
    case MessageType.OK:
      writer.u8(message.flag ? 1 : 0);
      break;
    case MessageType.ERROR:
      writer.string(message.code).string(message.message.slice(0, 4096));
      break;
  }
  return writer.finish();
}

/**
 * Splits a byte stream into messages. Feed chunks as they arrive; a frame may
 * arrive a byte at a time. The buffer never holds more than one frame of at
 * most {@link MAX_PEER_FRAME_BYTES}; a bad length or type is an ERR_PROTOCOL
 * error as soon as its bytes arrive.
 */
export class PeerMessageDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #frameLength = -1;

  /** Adds bytes and returns the messages they complete. Throws ERR_PROTOCOL on corrupt input. */
  push(chunk: Uint8Array): PeerMessage[] {
    this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#buffered += chunk.byteLength;
    const messages: PeerMessage[] = [];
    for (;;) {
      if (this.#frameLength < 0) {
        if (this.#buffered < 4) break;
        const length = this.#peek(4).readUInt32BE(0);
        if (length < HEADER_BYTES - 4 || length > MAX_PEER_FRAME_BYTES) throw protocolError(`frame length ${length} outside 5..${MAX_PEER_FRAME_BYTES}`);
        this.#frameLength = length;
        this.#take(4);
      }
      if (this.#buffered >= 1) checkType(this.#peek(1)[0]!);
      if (this.#buffered < this.#frameLength) break;
      const frame = this.#take(this.#frameLength);
      this.#frameLength = -1;
      messages.push(decodeFrame(frame));
    }
    return messages;
  }

  #peek(bytes: number): Buffer {
    if (this.#chunks[0]!.byteLength < bytes) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!;
  }

  #take(bytes: number): Buffer {
    const head = this.#peek(bytes);
    const taken = head.subarray(0, bytes);
    const rest = head.subarray(bytes);
    if (rest.byteLength > 0) this.#chunks[0] = rest;
    else this.#chunks.shift();
    this.#buffered -= bytes;
    return taken;
  }
}

const KNOWN_TYPES = new Set<number>(Object.values(MessageType));

function checkType(type: number): void {
  if (!KNOWN_TYPES.has(type)) throw protocolError(`unknown message type ${type}`);
}

function decodeFrame(frame: Buffer): PeerMessage {
  const reader = new FrameReader(frame);
  const type = reader.u8();
  const requestId = reader.u32();
  let message: PeerMessage;
  switch (type) {
    case MessageType.HELLO:
      message = { type, requestId, version: reader.u16(), nonce: reader.bytes(NONCE_BYTES) };
      break;
    case MessageType.HELLO_REPLY:
      message = { type, requestId, version: reader.u16(), nonce: reader.bytes(NONCE_BYTES), proof: reader.bytes(NONCE_BYTES) };
      break;
    case MessageType.AUTH:
      message = { type, requestId, proof: reader.bytes(NONCE_BYTES) };
      break;
    case MessageType.GET:
    case MessageType.DELETE:
      message = { type, requestId, keyspace: reader.string(), key: reader.string() };
      break;
    case MessageType.PUT:
      message = { type, requestId, keyspace: reader.string(), key: reader.string(), expiresAt: reader.f64(), value: reader.rest() };
      break;
    case MessageType.DELETE_KEYSPACE:
      message = { type, requestId, keyspace: reader.string() };
      break;
    case MessageType.VALUE:
      message = { type, requestId, found: reader.flag(), expiresAt: reader.f64(), value: reader.rest() };
      break;
    case MessageType.OK:
      message = { type, requestId, flag: reader.flag() };
      break;
    case MessageType.ERROR:
      message = { type, requestId, code: reader.string(), message: reader.string() };
      break;
    default:
      throw protocolError(`unknown message type ${type}`);
  }
  reader.end();
  return message;
}

function protocolError(message: string): DistCacheError {
  return new DistCacheError(ErrorCode.PROTOCOL, `peer protocol: ${message}`);
}

class FrameWriter {
  readonly #parts: Uint8Array[] = [];
  #length = HEADER_BYTES;

  constructor(type: number, requestId: number) {
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt8(type, 4);
    header.writeUInt32BE(requestId >>> 0, 5);
    this.#parts.push(header);
  }

  u8(value: number): this {
    return this.#fixed(1, (buffer) => buffer.writeUInt8(value, 0));
  }

  u16(value: number): this {
    return this.#fixed(2, (buffer) => buffer.writeUInt16BE(value, 0));
  }

  f64(value: number): this {
    return this.#fixed(8, (buffer) => buffer.writeDoubleBE(value, 0));
  }

  string(value: string): this {
    const bytes = encoder.encode(value);
    if (bytes.byteLength > 0xffff) throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, `peer protocol: string of ${bytes.byteLength} bytes is too long`);
    return this.u16(bytes.byteLength).raw(bytes);
  }

  raw(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    this.#length += bytes.byteLength;
    return this;
  }

  finish(): Buffer {
    if (this.#length - 4 > MAX_PEER_FRAME_BYTES) {
      throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, `peer protocol: message of ${this.#length} bytes exceeds ${MAX_PEER_FRAME_BYTES}`);
    }
    const frame = Buffer.concat(this.#parts, this.#length);
    frame.writeUInt32BE(this.#length - 4, 0);
    return frame;
  }

  #fixed(bytes: number, write: (buffer: Buffer) => void): this {
    const buffer = Buffer.allocUnsafe(bytes);
    write(buffer);
    return this.raw(buffer);
  }
}

class FrameReader {
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

  string(): string {
    const length = this.u16();
    try {
      return decoder.decode(this.bytes(length));
    } catch (error) {
      if (error instanceof DistCacheError) throw error;
      throw protocolError('string is not valid UTF-8');
    }
  }

  bytes(length: number): Uint8Array {
    this.#need(length);
    const start = this.#advance(length);
    return new Uint8Array(this.#frame.subarray(start, start + length));
  }

  rest(): Uint8Array {
    return this.bytes(this.#frame.byteLength - this.#offset);
  }

  end(): void {
    if (this.#offset !== this.#frame.byteLength) throw protocolError(`${this.#frame.byteLength - this.#offset} unexpected trailing bytes`);
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
}
