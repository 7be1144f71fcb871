import { ErrorCode, isDistCacheError } from '../errors.js';
import { MAX_ID_BYTES, Operation, Status, parseAddRequest, type DcMessage } from './codec.js';

/** The engine calls the session listener needs, on its keyspace. */
export interface SessionStore {
  get(key: string): Promise<Uint8Array | undefined>;
  /**
   * Stores the session unless the id is taken; resolves false when it is.
   * Rejects with ERR_INVALID_ARGUMENT for a session larger than the keyspace.
   */
  put(key: string, value: Uint8Array, expiresAt: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
}

const OPERATION_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Operation).map(([name, code]) => [code, name]),
);
const STATUS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Status).map(([name, code]) => [code, name]),
);

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

  /** The response data for one request. */
  async answer(request: DcMessage): Promise<Uint8Array> {
    const response = await this.#answer(request);
    this.answered(OPERATION_NAMES[request.operation] ?? 'UNKNOWN', statusOf(request.operation, response));
    return response;
  }

  async #answer(request: DcMessage): Promise<Uint8Array> {
    if (request.operation === Operation.ADD) return this.#add(request.data);
    const key = keyOf(request.data);
    if (key === undefined) return status(Status.NOTOK); // no session can have that id
    switch (request.operation) {
      case Operation.GET:
        return (await this.store.get(key)) ?? status(Status.NOTOK);
      case Operation.REMOVE:
        return status((await this.store.delete(key)) ? Status.OK : Status.NOTOK);
      case Operation.HAVE:
        return status((await this.store.get(key)) !== undefined ? Status.OK : Status.NOTOK);
    }
  }

  async #add(data: Uint8Array): Promise<Uint8Array> {
    const add = parseAddRequest(data);
    if (!add.ok) return status(add.status);
    let stored: boolean;
    try {
      stored = await this.store.put(keyOf(add.id)!, add.session, Date.now() + add.timeoutMs);
    } catch (error) {
      // A session the keyspace could never hold: out of range, as dc_server answers a session over its limit.
      if (isDistCacheError(error, ErrorCode.INVALID_ARGUMENT)) return status(Status.DATA_RANGE);
      throw error;
    }
    return status(stored ? Status.OK : Status.MATCHING_SESSION);
  }
}

/** A session id as an engine key (hex), or undefined for an id no session can have (outside 1..64 bytes). */
function keyOf(id: Uint8Array): string | undefined {
  if (id.byteLength === 0 || id.byteLength > MAX_ID_BYTES) return undefined;
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

function status(code: number): Uint8Array {
  return Uint8Array.of(code);
}

/** The status a response carries: GET answers the session (FOUND) or NOTOK, the others one status byte. */
function statusOf(operation: number, response: Uint8Array): string {
  if (operation === Operation.GET) return response.length === 1 && response[0] === Status.NOTOK ? 'NOTOK' : 'FOUND';
  return STATUS_NAMES[response[0] ?? -1] ?? 'UNKNOWN';
}
