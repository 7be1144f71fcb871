import { DistCacheError, ErrorCode } from '../errors.js';
import type { VersionedCopy } from '../keyspace/versions.js';
import {
  COPY_HEADER_BYTES,
  FrameReader,
  copyValue,
  protocolError,
  stringBytes,
  writeCopyHeader,
  writeRaw,
  writeString,
} from './peer-frame.js';

/**
 * The peer transport's wire format, pure: bytes in, messages out, no sockets
 * and no timers. A frame is
 *
 *   u32 length | u8 type | u32 requestId | payload (length - 5 bytes)
 *
 * big-endian, `length` counting everything after itself. Strings are UTF-8
 * behind a u16 length; a value is the rest of the frame. Which messages a
 * connection may carry depends on the version its handshake chose
 * (peer-handshake.ts).
 */

/** Largest frame accepted: a 16 MiB value plus its header. Larger values are not sent between nodes. */
export const MAX_PEER_FRAME_BYTES = 16 * 1024 * 1024 + 64 * 1024;

/**
 * Message types. 1-3 belonged to the HMAC handshake that came before TLS
 * and version ranges, and are never used again: a node that still sends
 * them is refused as an unknown message type.
 */
export const MessageType = {
  HELLO: 4,
  WELCOME: 5,
  GET: 10,
  PUT: 11,
  DELETE: 12,
  DELETE_KEYSPACE: 13,
  INVALIDATE: 14,
  CLEAR_KEYSPACE: 15,
  VERSIONED_PUT: 40,
  VERSIONED_DELETE: 41,
  VERSIONED_INVALIDATE: 42,
  PEEK: 43,
  HANDOFF: 44,
  VALUE: 20,
  OK: 21,
  ERROR: 22,
  GOING_AWAY: 23,
  COPY: 24,
  GET_MANY: 30,
  VALUES: 31,
  SYNC: 45,
} as const;

/** Bits of a versioned write's flag byte. */
const WRITE_FLAGS = { IF_ABSENT: 1, STAND_IN: 2 } as const;

/** One key's copy in a HANDOFF. */
export interface KeyCopy {
  readonly key: string;
  readonly copy: VersionedCopy;
}

/** Most keys one GET_MANY carries; a longer read is split over several. */
export const MAX_KEYS_PER_GET_MANY = 1_024;

/** One key's answer in a VALUES reply, in the order of the GET_MANY's keys. */
export type PeerReadEntry =
  | { readonly status: 'found'; readonly expiresAt: number; readonly value: Uint8Array }
  | { readonly status: 'not_found'; readonly expiresAt: number }
  | { readonly status: 'error'; readonly code: string; readonly message: string }
  /** Left out to keep the reply within a frame: ask for the key alone. */
  | { readonly status: 'skipped' };

const ENTRY_TAG = { not_found: 0, found: 1, error: 2, skipped: 3 } as const;

/** Every message the peer transport carries. */
export type PeerMessage =
  | { type: typeof MessageType.HELLO; requestId: number; minVersion: number; maxVersion: number; target: string }
  | { type: typeof MessageType.WELCOME; requestId: number; version: number }
  | { type: typeof MessageType.GET; requestId: number; keyspace: string; key: string }
  | {
      type: typeof MessageType.PUT;
      requestId: number;
      keyspace: string;
      key: string;
      expiresAt: number;
      ifAbsent: boolean;
      value: Uint8Array;
    }
  | { type: typeof MessageType.DELETE; requestId: number; keyspace: string; key: string }
  | { type: typeof MessageType.DELETE_KEYSPACE; requestId: number; keyspace: string }
  | { type: typeof MessageType.INVALIDATE; requestId: number; keyspace: string; key: string }
  | { type: typeof MessageType.GET_MANY; requestId: number; keyspace: string; keys: string[] }
  | { type: typeof MessageType.VALUES; requestId: number; entries: PeerReadEntry[] }
  | { type: typeof MessageType.CLEAR_KEYSPACE; requestId: number; keyspace: string }
  | { type: typeof MessageType.VALUE; requestId: number; found: boolean; expiresAt: number; value: Uint8Array }
  | { type: typeof MessageType.OK; requestId: number; flag: boolean }
  | { type: typeof MessageType.ERROR; requestId: number; code: string; message: string }
  | {
      type: typeof MessageType.VERSIONED_PUT;
      requestId: number;
      keyspace: string;
      key: string;
      expiresAt: number;
      ifAbsent: boolean;
      /** The writer could not reach an owner, and this node stands in for it. */
      standIn: boolean;
      /** The writer's stamp: the receiver stores the write above it. */
      version: number;
      value: Uint8Array;
    }
  | {
      type: typeof MessageType.VERSIONED_DELETE;
      requestId: number;
      keyspace: string;
      key: string;
      standIn: boolean;
      version: number;
    }
  | { type: typeof MessageType.VERSIONED_INVALIDATE; requestId: number; keyspace: string; key: string; version: number }
  /** Asks for the node's copy of a key, as held (no load): answered by COPY. */
  | { type: typeof MessageType.PEEK; requestId: number; keyspace: string; key: string }
  /** Copies to merge by version: answered by OK. */
  | { type: typeof MessageType.HANDOFF; requestId: number; keyspace: string; entries: readonly KeyCopy[] }
  | { type: typeof MessageType.COPY; requestId: number; copy: VersionedCopy | undefined }
  /** `requester` asks for the entries it owns, sent as HANDOFFs, then OK. */
  | { type: typeof MessageType.SYNC; requestId: number; requester: string }
  | { type: typeof MessageType.GOING_AWAY; requestId: number };

const HEADER_BYTES = 9;

/** A message to encode; `requestId` may be given apart. */
export type OutgoingPeerMessage = DistributiveOmit<PeerMessage, 'requestId'> & { requestId?: number };

/** Encodes one message as one frame, in a single allocation; `requestId` overrides the message's own. */
export function encodePeerMessage(message: OutgoingPeerMessage, requestId = message.requestId ?? 0): Buffer {
  const bytes = peerFrameBytes(message);
  const frame = Buffer.allocUnsafe(bytes);
  encodePeerMessageInto(frame, 0, bytes, message, requestId);
  return frame;
}

/** Bytes of the frame that encodes `message`; throws ERR_INVALID_ARGUMENT for one larger than a frame may be. */
export function peerFrameBytes(message: OutgoingPeerMessage): number {
  const bytes = HEADER_BYTES + payloadBytes(message);
  if (bytes - 4 > MAX_PEER_FRAME_BYTES) {
    throw new DistCacheError(
      ErrorCode.INVALID_ARGUMENT,
      `peer protocol: a message of ${bytes} bytes exceeds the ${MAX_PEER_FRAME_BYTES} bytes one node may send another; values in a cluster must stay under 16 MiB`,
    );
  }
  return bytes;
}

/**
 * Encodes one message at `start` of `frame`, which must have `bytes` (its
 * {@link peerFrameBytes}) free there.
 */
export function encodePeerMessageInto(
  frame: Buffer,
  start: number,
  bytes: number,
  message: OutgoingPeerMessage,
  requestId = message.requestId ?? 0,
): void {
  frame.writeUInt32BE(bytes - 4, start);
  frame.writeUInt8(message.type, start + 4);
  frame.writeUInt32BE(requestId >>> 0, start + 5);
  let at = start + HEADER_BYTES;
  switch (message.type) {
    case MessageType.HELLO:
      at = frame.writeUInt16BE(message.minVersion, at);
      writeString(frame, frame.writeUInt16BE(message.maxVersion, at), message.target);
      break;
    case MessageType.WELCOME:
      frame.writeUInt16BE(message.version, at);
      break;
    case MessageType.GET:
    case MessageType.DELETE:
    case MessageType.INVALIDATE:
      writeString(frame, writeString(frame, at, message.keyspace), message.key);
      break;
    case MessageType.PUT:
      at = writeString(frame, writeString(frame, at, message.keyspace), message.key);
      at = frame.writeDoubleBE(message.expiresAt, at);
      writeRaw(frame, frame.writeUInt8(message.ifAbsent ? 1 : 0, at), message.value);
      break;
    case MessageType.DELETE_KEYSPACE:
    case MessageType.CLEAR_KEYSPACE:
      writeString(frame, at, message.keyspace);
      break;
    case MessageType.GET_MANY:
      at = frame.writeUInt16BE(message.keys.length, writeString(frame, at, message.keyspace));
      for (const key of message.keys) at = writeString(frame, at, key);
      break;
    case MessageType.VALUES:
      at = frame.writeUInt16BE(message.entries.length, at);
      for (const entry of message.entries) at = writeEntry(frame, at, entry);
      break;
    case MessageType.VALUE:
      at = frame.writeUInt8(message.found ? 1 : 0, at);
      writeRaw(frame, frame.writeDoubleBE(message.expiresAt, at), message.value);
      break;
    case MessageType.OK:
      frame.writeUInt8(message.flag ? 1 : 0, at);
      break;
    case MessageType.ERROR:
      writeString(frame, writeString(frame, at, errorCode(message)), errorText(message));
      break;
    case MessageType.VERSIONED_PUT:
      at = writeString(frame, writeString(frame, at, message.keyspace), message.key);
      at = frame.writeDoubleBE(message.expiresAt, at);
      at = frame.writeUInt8(writeFlags(message.ifAbsent, message.standIn), at);
      writeRaw(frame, frame.writeDoubleBE(message.version, at), message.value);
      break;
    case MessageType.VERSIONED_DELETE:
      at = writeString(frame, writeString(frame, at, message.keyspace), message.key);
      frame.writeDoubleBE(message.version, frame.writeUInt8(writeFlags(false, message.standIn), at));
      break;
    case MessageType.VERSIONED_INVALIDATE:
      at = writeString(frame, writeString(frame, at, message.keyspace), message.key);
      frame.writeDoubleBE(message.version, at);
      break;
    case MessageType.PEEK:
      writeString(frame, writeString(frame, at, message.keyspace), message.key);
      break;
    case MessageType.HANDOFF:
      at = frame.writeUInt32BE(message.entries.length, writeString(frame, at, message.keyspace));
      for (const { key, copy } of message.entries) {
        at = writeCopyHeader(frame, writeString(frame, at, key), copy);
        const value = copyValue(copy);
        at = writeRaw(frame, frame.writeUInt32BE(value.byteLength, at), value);
      }
      break;
    case MessageType.COPY:
      writeRaw(frame, writeCopyHeader(frame, at, message.copy), copyValue(message.copy));
      break;
    case MessageType.SYNC:
      writeString(frame, at, message.requester);
      break;
    case MessageType.GOING_AWAY:
      break;
  }
}

function writeFlags(ifAbsent: boolean, standIn: boolean): number {
  return (ifAbsent ? WRITE_FLAGS.IF_ABSENT : 0) | (standIn ? WRITE_FLAGS.STAND_IN : 0);
}

/** Writes one VALUES entry at `at`; returns the offset after it. */
function writeEntry(frame: Buffer, at: number, entry: PeerReadEntry): number {
  at = frame.writeUInt8(ENTRY_TAG[entry.status], at);
  switch (entry.status) {
    case 'found':
      at = frame.writeUInt32BE(entry.value.byteLength, frame.writeDoubleBE(entry.expiresAt, at));
      return writeRaw(frame, at, entry.value);
    case 'not_found':
      return frame.writeDoubleBE(entry.expiresAt, at);
    case 'error':
      return writeString(frame, writeString(frame, at, errorCode(entry)), errorText(entry));
    case 'skipped':
      return at;
  }
}

/** Bytes of one VALUES entry. */
export function peerReadEntryBytes(entry: PeerReadEntry): number {
  switch (entry.status) {
    case 'found':
      return 1 + 8 + 4 + entry.value.byteLength;
    case 'not_found':
      return 1 + 8;
    case 'error':
      return 1 + stringBytes(errorCode(entry)) + stringBytes(errorText(entry));
    case 'skipped':
      return 1;
  }
}

/** A message of any type without some of its fields. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Bytes of a message after the header. */
function payloadBytes(message: DistributiveOmit<PeerMessage, 'requestId'>): number {
  switch (message.type) {
    case MessageType.HELLO:
      return 2 + 2 + stringBytes(message.target);
    case MessageType.WELCOME:
      return 2;
    case MessageType.GET:
    case MessageType.DELETE:
    case MessageType.INVALIDATE:
      return stringBytes(message.keyspace) + stringBytes(message.key);
    case MessageType.PUT:
      return stringBytes(message.keyspace) + stringBytes(message.key) + 8 + 1 + message.value.byteLength;
    case MessageType.DELETE_KEYSPACE:
    case MessageType.CLEAR_KEYSPACE:
      return stringBytes(message.keyspace);
    case MessageType.GET_MANY:
      if (message.keys.length > MAX_KEYS_PER_GET_MANY)
        throw new DistCacheError(
          ErrorCode.INVALID_ARGUMENT,
          `peer protocol: a GET_MANY carries at most ${MAX_KEYS_PER_GET_MANY} keys, got ${message.keys.length}`,
        );
      return message.keys.reduce((sum, key) => sum + stringBytes(key), stringBytes(message.keyspace) + 2);
    case MessageType.VALUES:
      if (message.entries.length > MAX_KEYS_PER_GET_MANY)
        throw new DistCacheError(
          ErrorCode.INVALID_ARGUMENT,
          `peer protocol: a VALUES reply carries at most ${MAX_KEYS_PER_GET_MANY} entries, got ${message.entries.length}`,
        );
      return message.entries.reduce((sum, entry) => sum + peerReadEntryBytes(entry), 2);
    case MessageType.VALUE:
      return 1 + 8 + message.value.byteLength;
    case MessageType.OK:
      return 1;
    case MessageType.ERROR:
      return stringBytes(errorCode(message)) + stringBytes(errorText(message));
    case MessageType.VERSIONED_PUT:
      return stringBytes(message.keyspace) + stringBytes(message.key) + 8 + 1 + 8 + message.value.byteLength;
    case MessageType.VERSIONED_DELETE:
      return stringBytes(message.keyspace) + stringBytes(message.key) + 1 + 8;
    case MessageType.VERSIONED_INVALIDATE:
      return stringBytes(message.keyspace) + stringBytes(message.key) + 8;
    case MessageType.PEEK:
      return stringBytes(message.keyspace) + stringBytes(message.key);
    case MessageType.HANDOFF: {
      let bytes = stringBytes(message.keyspace) + 4;
      for (const { key, copy } of message.entries)
        bytes += stringBytes(key) + COPY_HEADER_BYTES + 4 + copyValue(copy).byteLength;
      return bytes;
    }
    case MessageType.COPY:
      return COPY_HEADER_BYTES + copyValue(message.copy).byteLength;
    case MessageType.SYNC:
      return stringBytes(message.requester);
    case MessageType.GOING_AWAY:
      return 0;
  }
}

/** Error replies carry at most 64 characters of code and 4096 of message, whatever the error said. */
const errorCode = (message: { code: string }): string => message.code.slice(0, 64);
const errorText = (message: { message: string }): string => message.message.slice(0, 4096);

/**
 * Splits a byte stream into messages. Feed chunks as they arrive; a frame may
 * arrive a byte at a time. The buffer never holds more than one frame of at
 * most {@link MAX_PEER_FRAME_BYTES}; a bad length or type is an ERR_PROTOCOL
 * error as soon as its bytes arrive. It never keeps a view of the bytes it
 * is given (leftovers are copied), so callers may reuse their read buffer.
 */
export class PeerMessageDecoder {
  /** Largest frame accepted now; a server keeps it small until the peer has authenticated. */
  maxFrameBytes = MAX_PEER_FRAME_BYTES;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #frameLength = -1;

  /** Adds bytes and returns the messages they complete. Throws ERR_PROTOCOL on corrupt input. */
  push(chunk: Uint8Array): PeerMessage[] {
    this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#buffered += chunk.byteLength;
    const messages: PeerMessage[] = [];
    for (;;) {
      if (this.#frameLength < 0) {
        if (this.#buffered < 4) break;
        const length = this.#peek(4).readUInt32BE(0);
        if (length < HEADER_BYTES - 4 || length > this.maxFrameBytes)
          throw protocolError(`frame length ${length} outside 5..${this.maxFrameBytes}`);
        this.#frameLength = length;
        this.#take(4);
      }
      if (this.#buffered >= 1) checkType(this.#peek(1)[0]!);
      if (this.#buffered < this.#frameLength) break;
      const frame = this.#take(this.#frameLength);
      this.#frameLength = -1;
      messages.push(decodeFrame(frame));
    }
    // Keep no view of the caller's bytes: a socket may reuse its read buffer.
    if (this.#chunks.length > 0 && this.#chunks[this.#chunks.length - 1]!.buffer === chunk.buffer) {
      this.#chunks = [Buffer.concat(this.#chunks)];
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
      message = { type, requestId, minVersion: reader.u16(), maxVersion: reader.u16(), target: reader.string() };
      break;
    case MessageType.WELCOME:
      message = { type, requestId, version: reader.u16() };
      break;
    case MessageType.GET:
    case MessageType.DELETE:
    case MessageType.INVALIDATE:
      message = { type, requestId, keyspace: reader.string(), key: reader.string() };
      break;
    case MessageType.PUT:
      message = {
        type,
        requestId,
        keyspace: reader.string(),
        key: reader.string(),
        expiresAt: reader.f64(),
        ifAbsent: reader.flag(),
        value: reader.rest(),
      };
      break;
    case MessageType.DELETE_KEYSPACE:
    case MessageType.CLEAR_KEYSPACE:
      message = { type, requestId, keyspace: reader.string() };
      break;
    case MessageType.GET_MANY: {
      const keyspace = reader.string();
      const keys: string[] = [];
      for (let count = reader.count(MAX_KEYS_PER_GET_MANY); keys.length < count;) keys.push(reader.string());
      message = { type, requestId, keyspace, keys };
      break;
    }
    case MessageType.VALUES: {
      const entries: PeerReadEntry[] = [];
      for (let count = reader.count(MAX_KEYS_PER_GET_MANY); entries.length < count;) entries.push(readEntry(reader));
      message = { type, requestId, entries };
      break;
    }
    case MessageType.VALUE:
      message = { type, requestId, found: reader.flag(), expiresAt: reader.f64(), value: reader.restInSlab() };
      break;
    case MessageType.OK:
      message = { type, requestId, flag: reader.flag() };
      break;
    case MessageType.ERROR:
      message = { type, requestId, code: reader.string(), message: reader.string() };
      break;
    case MessageType.VERSIONED_PUT: {
      const keyspace = reader.string();
      const key = reader.string();
      const expiresAt = reader.f64();
      const flags = reader.flags(WRITE_FLAGS.IF_ABSENT | WRITE_FLAGS.STAND_IN);
      message = {
        type,
        requestId,
        keyspace,
        key,
        expiresAt,
        ifAbsent: (flags & WRITE_FLAGS.IF_ABSENT) !== 0,
        standIn: (flags & WRITE_FLAGS.STAND_IN) !== 0,
        version: reader.version(),
        value: reader.rest(),
      };
      break;
    }
    case MessageType.VERSIONED_DELETE:
      message = {
        type,
        requestId,
        keyspace: reader.string(),
        key: reader.string(),
        standIn: reader.flags(WRITE_FLAGS.STAND_IN) !== 0,
        version: reader.version(),
      };
      break;
    case MessageType.VERSIONED_INVALIDATE:
      message = { type, requestId, keyspace: reader.string(), key: reader.string(), version: reader.version() };
      break;
    case MessageType.PEEK:
      message = { type, requestId, keyspace: reader.string(), key: reader.string() };
      break;
    case MessageType.HANDOFF:
      message = { type, requestId, keyspace: reader.string(), entries: readCopies(reader) };
      break;
    case MessageType.COPY:
      message = { type, requestId, copy: reader.copy() };
      break;
    case MessageType.SYNC:
      message = { type, requestId, requester: reader.string() };
      break;
    case MessageType.GOING_AWAY:
      message = { type, requestId };
      break;
    default:
      throw protocolError(`unknown message type ${type}`);
  }
  reader.end();
  return message;
}

/** A HANDOFF's entries: a u32 count, then for each a key and a copy (never kind "none") with a u32 byte length. */
function readCopies(reader: FrameReader): KeyCopy[] {
  const count = reader.u32();
  const entries: KeyCopy[] = [];
  for (let i = 0; i < count; i++) {
    const key = reader.string();
    const copy = reader.copy(() => reader.u32());
    if (copy === undefined) throw protocolError('a handoff entry without a copy');
    entries.push({ key, copy });
  }
  return entries;
}

function readEntry(reader: FrameReader): PeerReadEntry {
  const tag = reader.u8();
  switch (tag) {
    case ENTRY_TAG.found: {
      const expiresAt = reader.f64();
      return { status: 'found', expiresAt, value: reader.bytesInSlab(reader.u32()) };
    }
    case ENTRY_TAG.not_found:
      return { status: 'not_found', expiresAt: reader.f64() };
    case ENTRY_TAG.error:
      return { status: 'error', code: reader.string(), message: reader.string() };
    case ENTRY_TAG.skipped:
      return { status: 'skipped' };
    default:
      throw protocolError(`unknown VALUES entry tag ${tag}`);
  }
}
