import {
  encodeAddRequest,
  encodeMessage,
  FRAME_DATA_BYTES,
  MAX_MESSAGE_BYTES,
  Operation,
  Status,
} from '../../src/protocol/codec.js';
import type { Answer } from './session-exchange.js';

/**
 * The requests where `distcache serve` must answer exactly as `dc_server`
 * does, each with dc_server's answer as probed (docs/protocol.md). The
 * interop suite (test/interop) sends them to both servers and compares the
 * bytes; test/integration sends them to serve alone and checks these answers.
 */
export interface EdgeCase {
  readonly name: string;
  /** The requests, on one connection, each sent once the one before is answered (all at once when `pipelined`). */
  readonly requests: readonly Buffer[];
  readonly pipelined: boolean;
  /** dc_server's answers; the exchange ends at the first close. */
  readonly expected: readonly Answer[];
}

interface Step {
  readonly request: Buffer;
  /** The answer's data (a status byte or a session), or `closed`. */
  readonly answer: Uint8Array | 'closed';
  readonly uid: number;
  readonly operation: Operation;
}

/** Header fields to set in every frame of a request, some of them as a well-behaved client never would. */
interface FrameFields {
  readonly uid?: number;
  readonly isResponse?: number;
  readonly opClass?: number;
  readonly operation?: number;
  readonly protoLevel?: number;
}

const FRAME_BYTES = 14 + FRAME_DATA_BYTES;
let nextUid = 0x100;

/** One request and dc_server's answer to it. */
function step(operation: Operation, data: Uint8Array, answer: Uint8Array | 'closed', bent: FrameFields = {}): Step {
  const uid = bent.uid ?? nextUid++;
  const request = encodeMessage({ isResponse: false, requestUid: uid, operation, data });
  for (let at = 0; at < request.byteLength; at += FRAME_BYTES) {
    if (bent.protoLevel !== undefined) request.writeUInt32BE(bent.protoLevel, at);
    if (bent.isResponse !== undefined) request[at + 4] = bent.isResponse;
    if (bent.opClass !== undefined) request[at + 9] = bent.opClass;
    if (bent.operation !== undefined) request[at + 10] = bent.operation;
  }
  return { request, answer, uid, operation };
}

const text = (value: string) => Buffer.from(value);
const status = (code: number) => Uint8Array.of(code);
const NOTOK = status(Status.NOTOK);
const OK = status(Status.OK);

/** ADD data with any id_len, whatever follows it. */
function addData(timeoutMs: number, idLength: number, rest: Uint8Array): Uint8Array {
  const data = Buffer.alloc(8 + rest.byteLength);
  data.writeUInt32BE(timeoutMs >>> 0, 0);
  data.writeUInt32BE(idLength >>> 0, 4);
  data.set(rest, 8);
  return data;
}

const add = (timeoutMs: number, id: Uint8Array, session: Uint8Array, code: number) =>
  step(Operation.ADD, encodeAddRequest(timeoutMs, id, session), status(code));
const addRaw = (timeoutMs: number, idLength: number, rest: Uint8Array, answer: number | 'closed') =>
  step(Operation.ADD, addData(timeoutMs, idLength, rest), answer === 'closed' ? 'closed' : status(answer));
const get = (id: Uint8Array, session?: Uint8Array) => step(Operation.GET, id, session ?? NOTOK);
const have = (id: Uint8Array, present: boolean) => step(Operation.HAVE, id, present ? OK : NOTOK);
const remove = (id: Uint8Array, present: boolean) => step(Operation.REMOVE, id, present ? OK : NOTOK);

/** Bytes of a recognisable pattern, `length` long. */
const pattern = (length: number, seed: number) => Uint8Array.from({ length }, (_, index) => (index * 31 + seed) & 0xff);

/** A 16-frame ADD (the largest message) whose last frame says more follows, then a 17th frame. */
function seventeenFrames(): Step {
  const { request, uid } = step(Operation.ADD, addData(60_000, 1, pattern(MAX_MESSAGE_BYTES - 8, 1)), 'closed');
  request[15 * FRAME_BYTES + 11] = 0;
  const extra = encodeMessage({ isResponse: false, requestUid: uid, operation: Operation.ADD, data: Uint8Array.of(1) });
  return { request: Buffer.concat([request, extra]), answer: 'closed', uid, operation: Operation.ADD };
}

/** A case; a HAVE is added at its end to show the connection is still open, unless it closes. */
function edgeCase(name: string, steps: Step[], pipelined = false): EdgeCase {
  const closes = steps.some((each) => each.answer === 'closed');
  const all = closes ? steps : [...steps, have(text('still-open?'), false)];
  const answered: string[] = [];
  let closed = false;
  for (const each of all) {
    if (each.answer === 'closed') {
      closed = true;
      break;
    }
    answered.push(
      encodeMessage({ isResponse: true, requestUid: each.uid, operation: each.operation, data: each.answer }).toString(
        'hex',
      ),
    );
  }
  const expected = pipelined
    ? [closed ? (answered.length > 0 ? `closed:${answered.join('')}` : 'closed') : answered.join('')]
    : closed
      ? [...answered, 'closed']
      : answered;
  return { name, requests: all.map((each) => each.request), pipelined, expected };
}

const session = text('session-bytes');
const id64 = pattern(64, 64);
const id65 = pattern(65, 65);
const twoFrames = pattern(3000, 3);
const largest = pattern(MAX_MESSAGE_BYTES - 9, 9);

export const EDGE_CASES: readonly EdgeCase[] = [
  edgeCase('an ADD with no data gets no answer: the connection closes', [
    step(Operation.ADD, new Uint8Array(0), 'closed'),
  ]),
  edgeCase('an ADD of 7 bytes gets no answer either', [
    step(Operation.ADD, Uint8Array.of(0, 0, 0x03, 0xe8, 0, 0, 0), 'closed'),
  ]),
  edgeCase(
    'pipelined, the requests before a 7-byte ADD are answered, then the connection closes',
    [have(text('pipe-a'), false), step(Operation.ADD, new Uint8Array(7), 'closed'), have(text('pipe-b'), false)],
    true,
  ),
  edgeCase('TIMEOUT_RANGE is checked first: 604800001 ms with id_len 0 and nothing after it', [
    addRaw(604_800_001, 0, new Uint8Array(0), Status.TIMEOUT_RANGE),
  ]),
  edgeCase('TIMEOUT_RANGE: 604800001 ms, and nothing is stored', [
    add(604_800_001, text('id-over-7-days'), session, Status.TIMEOUT_RANGE),
    have(text('id-over-7-days'), false),
  ]),
  edgeCase('TIMEOUT_RANGE: 0xffffffff ms', [add(0xffffffff, text('id-max-timeout'), session, Status.TIMEOUT_RANGE)]),
  edgeCase('a 7-day timeout (604800000 ms) is accepted', [
    add(604_800_000, text('id-7-days'), session, Status.OK),
    get(text('id-7-days'), session),
  ]),
  edgeCase('CORRUPT: id_len 0 and nothing after it', [addRaw(1000, 0, new Uint8Array(0), Status.CORRUPT)]),
  edgeCase('CORRUPT: the id takes every byte, leaving no session', [
    addRaw(1000, 4, text('abcd'), Status.CORRUPT),
    have(text('abcd'), false),
  ]),
  edgeCase('CORRUPT: id_len past the end of the data', [addRaw(1000, 60, text('abcd'), Status.CORRUPT)]),
  edgeCase('CORRUPT, not ID_RANGE: an id_len of 65 past the end of the data', [
    addRaw(1000, 65, pattern(10, 10), Status.CORRUPT),
  ]),
  edgeCase('CORRUPT: id_len 0xffffffff', [addRaw(1000, 0xffffffff, pattern(10, 11), Status.CORRUPT)]),
  edgeCase('ID_RANGE: id_len 0 with a session after it', [addRaw(1000, 0, text('abcd'), Status.ID_RANGE)]),
  edgeCase('ID_RANGE: a 65-byte id, and nothing is stored', [
    add(60_000, id65, session, Status.ID_RANGE),
    get(id65),
    have(id65, false),
  ]),
  edgeCase('a 64-byte id is stored, read, and removed', [
    add(60_000, id64, session, Status.OK),
    have(id64, true),
    get(id64, session),
    remove(id64, true),
    have(id64, false),
    remove(id64, false),
    get(id64),
  ]),
  edgeCase('MATCHING_SESSION: an ADD of a stored id is refused and changes nothing', [
    add(60_000, text('id-taken'), session, Status.OK),
    add(60_000, text('id-taken'), text('another-session'), Status.MATCHING_SESSION),
    get(text('id-taken'), session),
  ]),
  edgeCase('absent ids: GET, HAVE and REMOVE answer NOTOK, for empty and 65-byte ids too', [
    get(text('never-added')),
    have(text('never-added'), false),
    remove(text('never-added'), false),
    get(new Uint8Array(0)),
    have(new Uint8Array(0), false),
    remove(new Uint8Array(0), false),
    get(id65),
    remove(id65, false),
  ]),
  edgeCase('a timeout of 0 ms stores a session that has already expired', [
    add(0, text('id-zero-timeout'), session, Status.OK),
    have(text('id-zero-timeout'), false),
    add(0, text('id-zero-timeout'), session, Status.OK),
  ]),
  edgeCase('a two-frame session (3000 bytes) is stored and answered in two frames', [
    add(60_000, text('id-two-frames'), twoFrames, Status.OK),
    get(text('id-two-frames'), twoFrames),
  ]),
  edgeCase('a 4-byte session is answered as stored (libdistcache clients read any answer under 5 bytes as a miss)', [
    add(60_000, text('id-4-bytes'), text('four'), Status.OK),
    get(text('id-4-bytes'), text('four')),
  ]),
  edgeCase('a 4070-byte session is answered in 4098 bytes (libdistcache clients misread 4097 to 4100)', [
    add(60_000, text('id-4070-bytes'), pattern(4070, 70), Status.OK),
    get(text('id-4070-bytes'), pattern(4070, 70)),
  ]),
  edgeCase('the largest ADD (16 frames, a 32759-byte session) is stored and answered in 16 frames', [
    add(60_000, Uint8Array.of(0x5a), largest, Status.OK),
    get(Uint8Array.of(0x5a), largest),
  ]),
  edgeCase('a 17th frame closes the connection', [seventeenFrames()]),
  edgeCase('a request frame marked as a response closes the connection', [
    step(Operation.HAVE, text('x'), 'closed', { isResponse: 1 }),
  ]),
  edgeCase('op_class 1 closes the connection', [step(Operation.HAVE, text('x'), 'closed', { opClass: 1 })]),
  edgeCase('operation 4 closes the connection', [step(Operation.HAVE, text('x'), 'closed', { operation: 4 })]),
  edgeCase('a newer patch level of version 0x0011 is answered at patch level 0', [
    step(Operation.HAVE, text('patched'), NOTOK, { protoLevel: 0x0011_0005 }),
  ]),
  edgeCase('request_uid 0xffffffff and 0 are echoed', [
    step(Operation.HAVE, text('uid'), NOTOK, { uid: 0xffffffff }),
    step(Operation.GET, text('uid'), NOTOK, { uid: 0 }),
  ]),
  edgeCase(
    'pipelined requests are answered in order',
    [
      add(60_000, text('id-pipelined'), twoFrames, Status.OK),
      get(text('id-pipelined'), twoFrames),
      add(60_000, text('id-pipelined'), session, Status.MATCHING_SESSION),
      remove(text('id-pipelined'), true),
      have(text('id-pipelined'), false),
    ],
    true,
  ),
];
