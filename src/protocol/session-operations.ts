import { ErrorCode, isDistCacheError } from '../errors.js';
import { MAX_ID_BYTES, MAX_MESSAGE_BYTES, Operation, Status, parseAddRequest, type DcMessage } from './codec.js';

/**
 * The engine calls the session listener needs, on its keyspace. Each answers
 * at once when this node can (the session is in its memory, a standalone
 * write), else with a promise: the listener then answers without waiting a turn.
 */
export interface SessionStore {
  get(key: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /**
   * Stores the session unless the id is taken; false when it is. Fails with
   * ERR_INVALID_ARGUMENT for a session larger than the keyspace. `value` may
   * be a view into the listener's read buffer, which the next read on any
   * connection overwrites: copy it before returning (the engine's preparePut
   * does), never after a promise settles.
   */
  put(key: string, value: Uint8Array, expiresAt: number): boolean | Promise<boolean>;
  delete(key: string): boolean | Promise<boolean>;
}

const OPERATION_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Operation).map(([name, code]) => [code, name]),
);
const STATUS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Status).map(([name, code]) => [code, name]),
);
/** One response per status code, made once: a response's data is only read. */
const STATUS_DATA: Record<number, Uint8Array> = Object.fromEntries(
  Object.values(Status).map((code) => [code, Uint8Array.of(code)]),
);
const OK = STATUS_DATA[Status.OK]!;
const NOTOK = STATUS_DATA[Status.NOTOK]!;

/**
 * dc_server's semantics over an engine keyspace: ADD stores with the given
 * timeout and never overwrites (101, decided on the owner in one step), GET answers the bytes or NOTOK, REMOVE
 * and HAVE answer OK or NOTOK. Session ids become hex keys.
 */
export class SessionOperations {
  /** @param answered - called with the operation and its status (`OK`, `NOTOK`, `FOUND` for a GET with data, ...) once answered. */
  constructor(
    private readonly store: SessionStore,
    private readonly answered: (operation: string, status: string) => void = () => {},
  ) {}

  /**
   * The response data for one request: at once when the store answers at
   * once, else a promise. Throws (or rejects) when the store fails, and with
   * a DcProtocolError for a request dc_server would not answer.
   */
  answer(request: DcMessage): Uint8Array | Promise<Uint8Array> {
    const response = this.#answer(request);
    if (response instanceof Promise) return response.then((data) => this.#report(request, data));
    return this.#report(request, response);
  }

  #report(request: DcMessage, response: Uint8Array): Uint8Array {
    this.answered(OPERATION_NAMES[request.operation] ?? 'UNKNOWN', statusOf(request.operation, response));
    return response;
  }

  #answer(request: DcMessage): Uint8Array | Promise<Uint8Array> {
    if (request.operation === Operation.ADD) return this.#add(request.data);
    const key = keyOf(request.data);
    if (key === undefined) return NOTOK; // no session can have that id
    switch (request.operation) {
      case Operation.GET:
        return then(this.store.get(key), servable);
      case Operation.REMOVE:
        return then(this.store.delete(key), (removed) => (removed ? OK : NOTOK));
      case Operation.HAVE:
        return then(this.store.get(key), (session) => (session !== undefined ? OK : NOTOK));
    }
  }

  #add(data: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const add = parseAddRequest(data);
    if (!add.ok) return STATUS_DATA[add.status]!;
    let stored: boolean | Promise<boolean>;
    try {
      stored = this.store.put(keyOf(add.id)!, add.session, Date.now() + add.timeoutMs);
    } catch (error) {
      return tooLarge(error);
    }
    if (stored instanceof Promise) return stored.then(addStatus, tooLarge);
    return addStatus(stored);
  }
}

/**
 * GET's answer: the session, or NOTOK when there is none or it is larger than
 * a message carries (put through the engine, not the protocol).
 */
function servable(session: Uint8Array | undefined): Uint8Array {
  return session === undefined || session.byteLength > MAX_MESSAGE_BYTES ? NOTOK : session;
}

function addStatus(stored: boolean): Uint8Array {
  return stored ? OK : STATUS_DATA[Status.MATCHING_SESSION]!;
}

/** DATA_RANGE for a session the keyspace could never hold, as dc_server answers one over its limit; else the failure. */
function tooLarge(error: unknown): Uint8Array {
  if (isDistCacheError(error, ErrorCode.INVALID_ARGUMENT)) return STATUS_DATA[Status.DATA_RANGE]!;
  throw error;
}

/** `map(value)`, at once when `value` is at hand, else once it settles. */
function then<T>(value: T | Promise<T>, map: (value: T) => Uint8Array): Uint8Array | Promise<Uint8Array> {
  return value instanceof Promise ? value.then(map) : map(value);
}

/** A session id as an engine key (hex), or undefined for an id no session can have (outside 1..64 bytes). */
function keyOf(id: Uint8Array): string | undefined {
  if (id.byteLength === 0 || id.byteLength > MAX_ID_BYTES) return undefined;
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

/** The status a response carries: GET answers the session (FOUND) or NOTOK, the others one status byte. */
function statusOf(operation: number, response: Uint8Array): string {
  if (operation === Operation.GET) return response === NOTOK ? 'NOTOK' : 'FOUND';
  return STATUS_NAMES[response[0] ?? -1] ?? 'UNKNOWN';
}
