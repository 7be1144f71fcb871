import net from 'node:net';
import { connectOptions, parseSessionAddress } from '../../src/protocol/address.js';
import { DcMessageDecoder } from '../../src/protocol/codec.js';

/**
 * What a server did with a request, comparable byte for byte between two
 * servers: the hex of its answer's bytes; `closed` when it closed the
 * connection instead (`closed:<hex>` when some bytes came first); `silent`
 * (`silent:<hex>`) when no whole answer came before the deadline.
 */
export type Answer = string;

/**
 * Sends `requests` on one new connection and records each answer.
 *
 * One at a time (the default), each request is written once the previous
 * one is answered, and the bytes that arrive meanwhile are its answer.
 * `pipelined` writes them all at once and records the whole stream as one
 * answer, once `answers` messages (by default one a request) arrived. A
 * close or the deadline ends the exchange.
 */
export async function exchange(
  address: string,
  requests: readonly Uint8Array[],
  options: { pipelined?: boolean; answers?: number; deadlineMs?: number } = {},
): Promise<Answer[]> {
  const deadlineMs = options.deadlineMs ?? 5_000;
  const socket = net.connect(connectOptions(parseSessionAddress(address)));
  socket.setNoDelay(true);
  const decoder = new DcMessageDecoder();
  let received: Buffer[] = [];
  let messages = 0;
  let undecodable = false;
  let closed = false;
  let wake: () => void = () => undefined;
  socket.on('data', (chunk: Buffer) => {
    received.push(chunk);
    try {
      if (!undecodable) messages += decoder.push(chunk).length;
    } catch {
      undecodable = true; // kept as bytes: the comparison shows them
    }
    wake();
  });
  socket.on('close', () => ((closed = true), wake()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });

  /** Waits until `count` messages arrived, the connection closed, or the deadline passed. */
  const until = async (count: number): Promise<Answer> => {
    const deadline = Date.now() + deadlineMs;
    while (messages < count && !closed && !undecodable && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        wake = () => (clearTimeout(timer), resolve());
      });
    }
    const bytes = Buffer.concat(received).toString('hex');
    received = [];
    if (messages >= count && !undecodable) return bytes;
    if (closed || undecodable) return bytes === '' ? 'closed' : `closed:${bytes}`;
    return bytes === '' ? 'silent' : `silent:${bytes}`;
  };

  const answers: Answer[] = [];
  try {
    if (options.pipelined) {
      socket.write(Buffer.concat(requests));
      answers.push(await until(options.answers ?? requests.length));
    } else {
      for (const [index, request] of requests.entries()) {
        socket.write(request);
        const answer = await until(index + 1);
        answers.push(answer);
        if (answer.startsWith('closed') || answer.startsWith('silent')) break;
      }
    }
  } finally {
    socket.destroy();
  }
  return answers;
}
