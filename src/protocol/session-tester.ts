import { randomBytes, randomInt } from 'node:crypto';
import type { SessionAddress } from './address.js';
import { DcClient } from './client.js';
import { encodeAddRequest, Operation, Status, type DcMessage } from './codec.js';

/** Options of a dc_test-style run. */
export interface SessionTestOptions {
  readonly address: SessionAddress;
  /** Distinct sessions the run plays with. */
  readonly sessions: number;
  /** Operations to run. */
  readonly ops: number;
  /** One connection for the whole run, instead of one a request. */
  readonly persistent: boolean;
  /** Session sizes in bytes; at least 4 (a 1-byte GET answer would read as a status). */
  readonly dataMin: number;
  readonly dataMax: number;
  /** ADD timeout in ms: long, so nothing expires during the run. */
  readonly timeoutMs: number;
}

export interface SessionTestReport {
  readonly ops: number;
  readonly seconds: number;
  readonly mismatches: string[];
}

interface ModelSession {
  readonly id: Uint8Array;
  readonly data: Uint8Array;
  stored: boolean;
}

/**
 * Runs random ADD/GET/REMOVE/HAVE requests against a server and checks every
 * answer against its own model of what the server holds, like dc_test.
 * The server must start without these sessions (ids are random) and hold
 * them all (size its cache for `sessions × dataMax`).
 */
export async function runSessionTest(
  options: SessionTestOptions,
  onProgress: (done: number) => void = () => undefined,
): Promise<SessionTestReport> {
  const model: ModelSession[] = Array.from({ length: options.sessions }, () => ({
    id: randomBytes(randomInt(16, 33)),
    data: randomBytes(randomInt(options.dataMin, options.dataMax + 1)),
    stored: false,
  }));
  const mismatches: string[] = [];
  let persistent: DcClient | undefined;
  const send = async (operation: Operation, data: Uint8Array): Promise<DcMessage> => {
    if (options.persistent) {
      persistent ??= new DcClient(options.address);
      return persistent.request(operation, data);
    }
    const client = new DcClient(options.address);
    try {
      return await client.request(operation, data);
    } finally {
      client.close();
    }
  };
  const started = performance.now();
  try {
    for (let op = 0; op < options.ops && mismatches.length < 10; op++) {
      const session = model[randomInt(model.length)]!;
      const operation = randomInt(4) as Operation;
      const check = (what: string, got: Uint8Array, expected: Uint8Array): void => {
        if (Buffer.compare(Buffer.from(got), Buffer.from(expected)) !== 0) {
          mismatches.push(
            `op ${op}: ${what} ${Buffer.from(session.id).toString('hex')}: expected ${describe(expected)}, got ${describe(got)}`,
          );
        }
      };
      switch (operation) {
        case Operation.ADD: {
          const reply = await send(operation, encodeAddRequest(options.timeoutMs, session.id, session.data));
          check('ADD', reply.data, Uint8Array.of(session.stored ? Status.MATCHING_SESSION : Status.OK));
          session.stored = true;
          break;
        }
        case Operation.GET:
          check(
            'GET',
            (await send(operation, session.id)).data,
            session.stored ? session.data : Uint8Array.of(Status.NOTOK),
          );
          break;
        case Operation.REMOVE:
          check(
            'REMOVE',
            (await send(operation, session.id)).data,
            Uint8Array.of(session.stored ? Status.OK : Status.NOTOK),
          );
          session.stored = false;
          break;
        case Operation.HAVE:
          check(
            'HAVE',
            (await send(operation, session.id)).data,
            Uint8Array.of(session.stored ? Status.OK : Status.NOTOK),
          );
          break;
      }
      onProgress(op + 1);
    }
  } finally {
    persistent?.close();
  }
  return { ops: options.ops, seconds: (performance.now() - started) / 1000, mismatches };
}

function describe(bytes: Uint8Array): string {
  return bytes.byteLength === 1 ? `status ${bytes[0]}` : `${bytes.byteLength} bytes`;
}
