/**
 * The least a Node.js process does to serve dc_test correctly, for
 * bench/session.ts: a Map from session id to its bytes and expiry, and the
 * wire framing (frames of up to 2048 bytes, reassembled and split), nothing
 * else: no bounds, no validation beyond what dc_test's checks need, no
 * metrics, no backpressure. It reads as serve does, into one buffer of its
 * own (src/net/buffer-reads.ts), so it copies what it keeps past a read.
 * What it costs is Node's floor for a session server, as
 * bench/echo-server.ts is Node's floor for one request and one answer.
 *
 *   node dist-bench/bench/minimal-session-server.js HOST PORT
 */
import net from 'node:net';
import { readIntoBuffer } from '../src/net/buffer-reads.js';

const HEADER_BYTES = 14;
const FRAME_DATA_BYTES = 2048;
const ADD = 0;
const GET = 1;
const REMOVE = 2;
const OK = Uint8Array.of(0);
const NOTOK = Uint8Array.of(1);
const MATCHING_SESSION = Uint8Array.of(101);

interface Session {
  readonly data: Uint8Array;
  readonly expiresAt: number;
}

const sessions = new Map<string, Session>();

/** The live session with this id (latin1 key), dropping an expired one. */
function live(key: string): Session | undefined {
  const session = sessions.get(key);
  if (session === undefined || session.expiresAt > Date.now()) return session;
  sessions.delete(key);
  return undefined;
}

function answer(operation: number, data: Buffer): Uint8Array {
  if (operation === ADD) {
    const idLength = data.readUInt32BE(4);
    const key = data.toString('latin1', 8, 8 + idLength);
    if (live(key) !== undefined) return MATCHING_SESSION;
    sessions.set(key, { data: data.subarray(8 + idLength), expiresAt: Date.now() + data.readUInt32BE(0) });
    return OK;
  }
  const key = data.toString('latin1');
  if (operation === GET) return live(key)?.data ?? NOTOK;
  if (operation === REMOVE) return sessions.delete(key) ? OK : NOTOK;
  return live(key) === undefined ? NOTOK : OK;
}

/** The response frames for `data`, written over the request's header (uid and operation kept). */
function response(header: Buffer, data: Uint8Array): Buffer {
  const frames = Math.max(1, Math.ceil(data.byteLength / FRAME_DATA_BYTES));
  const out = Buffer.allocUnsafe(frames * HEADER_BYTES + data.byteLength);
  let at = 0;
  for (let frame = 0; frame < frames; frame++) {
    const chunk = data.subarray(frame * FRAME_DATA_BYTES, (frame + 1) * FRAME_DATA_BYTES);
    header.copy(out, at, 0, HEADER_BYTES);
    out[at + 4] = 1;
    out[at + 11] = frame === frames - 1 ? 1 : 0;
    out.writeUInt16BE(chunk.byteLength, at + 12);
    out.set(chunk, at + HEADER_BYTES);
    at += HEADER_BYTES + chunk.byteLength;
  }
  return out;
}

const readBuffer = Buffer.allocUnsafeSlow(64 * 1024);

function serve(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  let pending: Buffer | undefined;
  /** The data frames of a message spanning several, until its last. */
  let parts: Buffer[] = [];
  const onBytes = (chunk: Buffer) => {
    const bytes = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (bytes.length - at >= HEADER_BYTES) {
      const end = at + HEADER_BYTES + bytes.readUInt16BE(at + 12);
      if (end > bytes.length) break;
      const frame = bytes.subarray(at + HEADER_BYTES, end);
      // What outlives this read is copied: an ADD's session (serve's store copies too) and the frames of a longer message.
      parts.push(bytes[at + 10] === ADD || bytes[at + 11] === 0 ? Buffer.from(frame) : frame);
      if (bytes[at + 11] === 1) {
        const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        parts = [];
        socket.write(response(bytes.subarray(at, at + HEADER_BYTES), answer(bytes[at + 10]!, data)));
      }
      at = end;
    }
    pending = at === bytes.length ? undefined : Buffer.from(bytes.subarray(at));
  };
  if (!readIntoBuffer(socket, readBuffer, onBytes)) socket.on('data', onBytes);
}

const [host, port] = process.argv.slice(2);
net
  .createServer(serve)
  .listen(Number(port), host, () => console.log(`minimal session server listening on ${host}:${port}`));
