import { DistCacheError, ErrorCode } from '../errors.js';

/**
 * The C distcache wire protocol (version 0x0011), pure and incremental: bytes
 * in, whole messages out, no sockets and no timers. See
 * docs/protocol.md. A frame is
 *
 *   u32 proto_level | u8 is_response | u32 request_uid | u8 op_class |
 *   u8 operation | u8 complete | u16 data_len | data
 *
 * big-endian; a message of more than 2048 bytes spans several frames.
 */
export const PROTOCOL_VERSION = 0x0011;
/** Bytes of data one frame carries at most; every non-final frame carries exactly this many. */
export const FRAME_DATA_BYTES = 2048;
/** Frames one message may span. */
export const MAX_FRAMES = 16;
/** Bytes of data one message carries at most. */
export const MAX_MESSAGE_BYTES = FRAME_DATA_BYTES * MAX_FRAMES;
/** Bytes of a frame header. */
export const HEADER_BYTES = 14;

/** The four user operations. */
export const Operation = { ADD: 0, GET: 1, REMOVE: 2, HAVE: 3 } as const;
export type Operation = (typeof Operation)[keyof typeof Operation];

/** One-byte status codes of responses. */
export const Status = {
  OK: 0,
  NOTOK: 1,
  DISCONNECTED: 2,
  CORRUPT: 100,
  MATCHING_SESSION: 101,
  TIMEOUT_RANGE: 102,
  ID_RANGE: 103,
  DATA_RANGE: 104,
} as const;

/** ADD's longest timeout: 7 days in ms. */
export const MAX_TIMEOUT_MS = 604_800_000;
/** Longest session id. */
export const MAX_ID_BYTES = 64;
/** Longest session an ADD may carry (dc_server's DC_MAX_DATA_LEN). */
export const MAX_SESSION_BYTES = 32_768;

/** A whole message, its frames reassembled. */
export interface DcMessage {
  readonly isResponse: boolean;
  readonly requestUid: number;
  readonly operation: Operation;
  readonly data: Uint8Array;
}

/** Why a stream was refused: corrupt bytes, or a peer of another protocol version. */
export type ProtocolFault = 'corrupt' | 'incompatible';

/** ERR_PROTOCOL, with the kind of fault for the listener's log. */
export class DcProtocolError extends DistCacheError {
  constructor(
    readonly fault: ProtocolFault,
    message: string,
  ) {
    super(ErrorCode.PROTOCOL, `distcache protocol: ${message}`);
  }
}

/** Encodes a message as its frames, concatenated. */
export function encodeMessage(message: DcMessage): Buffer {
  const out = Buffer.allocUnsafe(encodedLength(message.data.byteLength));
  encodeMessageInto(out, 0, message.isResponse, message.requestUid, message.operation, message.data);
  return out;
}

/** Bytes a message carrying `dataLength` bytes takes on the wire, its frame headers included. */
export function encodedLength(dataLength: number): number {
  if (dataLength > MAX_MESSAGE_BYTES) {
    throw new DistCacheError(
      ErrorCode.INVALID_ARGUMENT,
      `distcache protocol: a message carries at most ${MAX_MESSAGE_BYTES} bytes, got ${dataLength}`,
    );
  }
  return Math.max(1, Math.ceil(dataLength / FRAME_DATA_BYTES)) * HEADER_BYTES + dataLength;
}

/**
 * Writes a message's frames into `out` from byte `at`, which must have room
 * for {@link encodedLength} bytes; returns the offset after them.
 */
export function encodeMessageInto(
  out: Buffer,
  at: number,
  isResponse: boolean,
  requestUid: number,
  operation: Operation,
  data: Uint8Array,
): number {
  const frames = Math.max(1, Math.ceil(data.byteLength / FRAME_DATA_BYTES));
  for (let frame = 0; frame < frames; frame++) {
    const chunk = data.subarray(frame * FRAME_DATA_BYTES, (frame + 1) * FRAME_DATA_BYTES);
    out[at] = PROTOCOL_VERSION >> 8;
    out[at + 1] = PROTOCOL_VERSION & 0xff;
    out[at + 2] = 0;
    out[at + 3] = 0;
    out[at + 4] = isResponse ? 1 : 0;
    out[at + 5] = requestUid >>> 24;
    out[at + 6] = requestUid >>> 16;
    out[at + 7] = requestUid >>> 8;
    out[at + 8] = requestUid;
    out[at + 9] = 0;
    out[at + 10] = operation;
    out[at + 11] = frame === frames - 1 ? 1 : 0;
    out[at + 12] = chunk.byteLength >>> 8;
    out[at + 13] = chunk.byteLength;
    out.set(chunk, at + HEADER_BYTES);
    at += HEADER_BYTES + chunk.byteLength;
  }
  return at;
}

/** A response whose data is one status byte. */
export function statusResponse(requestUid: number, operation: Operation, status: number): Buffer {
  return encodeMessage({ isResponse: true, requestUid, operation, data: Uint8Array.of(status) });
}

/** How a {@link DcMessageDecoder} hands out message data. */
export interface DcMessageDecoderOptions {
  /**
   * True: the data of a message that arrived in one frame, within one chunk,
   * is a view into that chunk, not a copy; it stays valid only while the
   * chunk is unchanged, so a reader that reuses its buffer copies what it
   * keeps past the next read. Parts of a message still incomplete when
   * {@link DcMessageDecoder.push} returns are copied, and a message that spans
   * frames is a copy. Default false.
   */
  readonly views?: boolean;
}

/**
 * Reassembles messages from a byte stream fed in any pieces. Every field is
 * checked as soon as its bytes arrive; a bad one throws a
 * {@link DcProtocolError} at once. Holds at most one message
 * ({@link MAX_MESSAGE_BYTES} of data) and one frame header.
 */
export class DcMessageDecoder {
  readonly #views: boolean;
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerFilled = 0;
  /** Data bytes the current frame still has to deliver. */
  #dataLeft = 0;
  #frameComplete = false;
  #parts: Uint8Array[] = [];
  #frames = 0;
  #message: { isResponse: boolean; requestUid: number; operation: Operation } | undefined;

  constructor(options: DcMessageDecoderOptions = {}) {
    this.#views = options.views ?? false;
  }

  /** Adds bytes; returns the messages they complete. Throws DcProtocolError on corrupt or incompatible input. */
  push(chunk: Uint8Array): DcMessage[] {
    const messages: DcMessage[] = [];
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.#headerFilled === 0 && this.#message === undefined) {
        const end = wholeMessageEnd(chunk, at);
        if (end !== 0) {
          messages.push(this.#wholeMessage(chunk, at, end));
          at = end;
          continue;
        }
      }
      if (this.#headerFilled < HEADER_BYTES) {
        while (at < chunk.byteLength && this.#headerFilled < HEADER_BYTES) {
          this.#header[this.#headerFilled++] = chunk[at++]!;
          this.#checkHeaderByte(this.#headerFilled);
        }
        if (this.#headerFilled < HEADER_BYTES) break;
        if (this.#dataLeft === 0) this.#endFrame(messages);
        continue;
      }
      const take = Math.min(this.#dataLeft, chunk.byteLength - at);
      // A copy unless views were asked for: the reader may reuse its buffer. Parts of several frames are joined into a copy anyway.
      this.#parts.push(
        this.#views
          ? new Uint8Array(chunk.buffer, chunk.byteOffset + at, take)
          : new Uint8Array(chunk.subarray(at, at + take)),
      );
      at += take;
      this.#dataLeft -= take;
      if (this.#dataLeft === 0) this.#endFrame(messages);
    }
    if (this.#views) this.#ownIncompleteParts(chunk);
    return messages;
  }

  /** Copies the parts of the incomplete message that are views into `chunk`, which its reader may reuse. */
  #ownIncompleteParts(chunk: Uint8Array): void {
    const parts = this.#parts;
    for (let i = 0; i < parts.length; i++) if (parts[i]!.buffer === chunk.buffer) parts[i] = parts[i]!.slice();
  }

  /** The one-frame message in `chunk` from `at` to `end` (see {@link wholeMessageEnd}). */
  #wholeMessage(chunk: Uint8Array, at: number, end: number): DcMessage {
    const start = at + HEADER_BYTES;
    return {
      isResponse: chunk[at + 4] === 1,
      requestUid: ((chunk[at + 5]! << 24) | (chunk[at + 6]! << 16) | (chunk[at + 7]! << 8) | chunk[at + 8]!) >>> 0,
      operation: chunk[at + 10] as Operation,
      data: this.#views
        ? new Uint8Array(chunk.buffer, chunk.byteOffset + start, end - start)
        : new Uint8Array(chunk.subarray(start, end)),
    };
  }

  /** Validates the header field that ends at byte `filled`, as soon as it is whole. */
  #checkHeaderByte(filled: number): void {
    const header = this.#header;
    switch (filled) {
      case 2: {
        const version = header.readUInt16BE(0);
        if (version !== PROTOCOL_VERSION)
          throw new DcProtocolError(
            'incompatible',
            `protocol version 0x${version.toString(16).padStart(4, '0')}, expected 0x0011`,
          );
        break;
      }
      case 5:
        if (header[4]! > 1) throw new DcProtocolError('corrupt', `is_response byte ${header[4]}`);
        if (this.#message && (header[4] === 1) !== this.#message.isResponse)
          throw new DcProtocolError('corrupt', 'a continuation frame changed is_response');
        break;
      case 9:
        if (this.#message && header.readUInt32BE(5) !== this.#message.requestUid)
          throw new DcProtocolError('corrupt', 'a continuation frame changed request_uid');
        break;
      case 10:
        if (header[9] !== 0) throw new DcProtocolError('corrupt', `op_class ${header[9]}`);
        break;
      case 11:
        if (header[10]! > 3) throw new DcProtocolError('corrupt', `operation ${header[10]}`);
        if (this.#message && header[10] !== this.#message.operation)
          throw new DcProtocolError('corrupt', 'a continuation frame changed the operation');
        break;
      case 12:
        if (header[11]! > 1) throw new DcProtocolError('corrupt', `complete byte ${header[11]}`);
        if (header[11] === 0 && this.#frames + 1 >= MAX_FRAMES)
          throw new DcProtocolError('corrupt', `a message spans more than ${MAX_FRAMES} frames`);
        break;
      case 14: {
        const length = header.readUInt16BE(12);
        if (length > FRAME_DATA_BYTES) throw new DcProtocolError('corrupt', `data_len ${length} > ${FRAME_DATA_BYTES}`);
        if (header[11] === 0 && length !== FRAME_DATA_BYTES)
          throw new DcProtocolError('corrupt', `a non-final frame carries ${length} bytes, not ${FRAME_DATA_BYTES}`);
        this.#dataLeft = length;
        this.#frameComplete = header[11] === 1;
        this.#message ??= {
          isResponse: header[4] === 1,
          requestUid: header.readUInt32BE(5),
          operation: header[10] as Operation,
        };
        break;
      }
    }
  }

  #endFrame(messages: DcMessage[]): void {
    this.#headerFilled = 0;
    this.#frames++;
    if (!this.#frameComplete) return;
    const message = this.#message!;
    messages.push({
      isResponse: message.isResponse,
      requestUid: message.requestUid,
      operation: message.operation,
      data: this.#parts.length === 1 ? this.#parts[0]! : joined(this.#parts),
    });
    this.#parts = [];
    this.#frames = 0;
    this.#message = undefined;
  }
}

/**
 * Where the message starting at `at` ends, when `chunk` holds all of it in one
 * frame whose header passes every check; else 0, and the decoder takes the
 * frame byte by byte, which finds the first bad field. (The common case, a
 * short request or answer read whole, costs a few byte reads this way.)
 */
function wholeMessageEnd(chunk: Uint8Array, at: number): number {
  if (chunk.byteLength - at < HEADER_BYTES) return 0;
  const end = at + HEADER_BYTES + ((chunk[at + 12]! << 8) | chunk[at + 13]!);
  const valid =
    chunk[at] === PROTOCOL_VERSION >> 8 &&
    chunk[at + 1] === (PROTOCOL_VERSION & 0xff) &&
    chunk[at + 4]! <= 1 &&
    chunk[at + 9] === 0 &&
    chunk[at + 10]! <= 3 &&
    chunk[at + 11] === 1 &&
    end - at - HEADER_BYTES <= FRAME_DATA_BYTES &&
    end <= chunk.byteLength;
  return valid ? end : 0;
}

/** The parts of a message in one Uint8Array (not a Buffer: message data is always a plain Uint8Array). */
function joined(parts: Uint8Array[]): Uint8Array {
  const data = Buffer.concat(parts);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A parsed ADD request, or the status code that refuses it. */
export type AddRequest =
  { ok: true; timeoutMs: number; id: Uint8Array; session: Uint8Array } | { ok: false; status: number };

/** Bytes of ADD data before the id: the u32 timeout and the u32 id length. */
const ADD_HEADER_BYTES = 8;

/**
 * Parses ADD data with dc_server's checks, in its order: 102 timeout range,
 * 100 corrupt (the id reaches the end of the data, leaving no session byte),
 * 103 id range (empty or longer than 64 bytes), 104 data range.
 *
 * 104 cannot come from the wire: a message carries at most 32768 bytes, so
 * the session is always shorter than dc_server's 32768-byte bound.
 *
 * @throws DcProtocolError (corrupt) when the data is shorter than its 8-byte
 *   header: dc_server answers nothing then and closes the connection.
 */
export function parseAddRequest(data: Uint8Array): AddRequest {
  if (data.byteLength < ADD_HEADER_BYTES)
    throw new DcProtocolError(
      'corrupt',
      `ADD data of ${data.byteLength} bytes, shorter than its ${ADD_HEADER_BYTES}-byte header`,
    );
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const timeoutMs = view.getUint32(0);
  const idLength = view.getUint32(4);
  if (timeoutMs > MAX_TIMEOUT_MS) return { ok: false, status: Status.TIMEOUT_RANGE };
  if (idLength >= data.byteLength - ADD_HEADER_BYTES) return { ok: false, status: Status.CORRUPT };
  if (idLength === 0 || idLength > MAX_ID_BYTES) return { ok: false, status: Status.ID_RANGE };
  const session = data.subarray(ADD_HEADER_BYTES + idLength);
  if (session.byteLength > MAX_SESSION_BYTES) return { ok: false, status: Status.DATA_RANGE };
  return { ok: true, timeoutMs, id: data.subarray(ADD_HEADER_BYTES, ADD_HEADER_BYTES + idLength), session };
}

/** Builds ADD data: timeout, id length, id, session. */
export function encodeAddRequest(timeoutMs: number, id: Uint8Array, session: Uint8Array): Uint8Array {
  const data = Buffer.allocUnsafe(ADD_HEADER_BYTES + id.byteLength + session.byteLength);
  data.writeUInt32BE(timeoutMs, 0);
  data.writeUInt32BE(id.byteLength, 4);
  data.set(id, ADD_HEADER_BYTES);
  data.set(session, ADD_HEADER_BYTES + id.byteLength);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
