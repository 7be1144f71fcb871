/**
 * dc_test's request pattern from a Node client, for the servers dc_test
 * cannot check (bench/echo-server.ts answers every request alike): one
 * connection, one request at a time, the four operations alike, over 50 ids
 * of 1-64 bytes, ADDs of 5-3990 bytes.
 */
import { randomBytes } from 'node:crypto';
import { parseSessionAddress } from '../src/protocol/address.js';
import { DcClient } from '../src/protocol/client.js';
import { encodeAddRequest, Operation } from '../src/protocol/codec.js';
import { seededRandom } from '../test/helpers/random.js';

/** One request of the pattern. */
export interface ReplayRequest {
  readonly operation: Operation;
  readonly data: Uint8Array;
}

/** `ops` requests of dc_test's mix; the ids are random bytes, so each process that builds them has its own. */
export function replayRequests(ops: number): ReplayRequest[] {
  const next = seededRandom(16);
  const ids = Array.from({ length: 50 }, () => randomBytes(1 + Math.floor(next() * 64)));
  return Array.from({ length: ops }, () => {
    const operation = Math.floor(next() * 4) as Operation;
    const id = ids[Math.floor(next() * ids.length)]!;
    const data =
      operation === Operation.ADD ? encodeAddRequest(60_000, id, randomBytes(5 + Math.floor(next() * 3986))) : id;
    return { operation, data };
  });
}

/** A connected client for `address`. */
export async function connectReplay(address: string): Promise<DcClient> {
  const client = new DcClient(parseSessionAddress(address));
  await client.connected;
  return client;
}

/** Sends `requests` on `client`, each once the previous one is answered. */
export async function replay(client: DcClient, requests: readonly ReplayRequest[]): Promise<void> {
  for (const { operation, data } of requests) await client.request(operation, data);
}
