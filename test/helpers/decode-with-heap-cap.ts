/**
 * Decodes inputs with the SWIM codec in a child process whose heap is capped,
 * for tests that hostile messages cannot make the decoder allocate without
 * bound: past the cap the child dies of "heap out of memory" instead of
 * taking the test process down.
 */
import { spawn } from 'node:child_process';
import { frame } from '../../src/cluster/swim/frames.js';

const CHILD = `
import { decodeSwimMessage } from ${JSON.stringify(new URL('../../src/cluster/swim/codec.ts', import.meta.url).href)};
import { FrameReader } from ${JSON.stringify(new URL('../../src/cluster/swim/frames.ts', import.meta.url).href)};
const reader = new FrameReader(2 ** 32 - 1);
const counts = { refused: 0, decoded: 0 };
for await (const chunk of process.stdin) {
  for (const input of reader.push(chunk)) {
    try {
      decodeSwimMessage(input);
      counts.decoded++;
    } catch (error) {
      if (error.code !== 'ERR_PROTOCOL') throw error;
      counts.refused++;
    }
  }
}
process.stdout.write(JSON.stringify(counts));
`;

/** What the child did: how many inputs it refused (ERR_PROTOCOL) and decoded, or how it crashed. */
export type HeapCappedOutcome =
  | { readonly crashed: false; readonly refused: number; readonly decoded: number }
  | { readonly crashed: true; readonly stderr: string };

/** Decodes each of `inputs` in one child process with a `heapMb` heap. */
export function decodeWithHeapCap(inputs: readonly Uint8Array[], heapMb: number): Promise<HeapCappedOutcome> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', `--max-old-space-size=${heapMb}`, '--input-type=module', '--eval', CHILD],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk).slice(-2_000)));
  child.stdin.on('error', () => undefined); // the child may die before it reads everything
  child.stdin.end(Buffer.concat(inputs.map(frame)));
  return new Promise((resolve) =>
    child.once('close', (code) =>
      resolve(code === 0 ? { crashed: false, ...JSON.parse(stdout) } : { crashed: true, stderr }),
    ),
  );
}
