/**
 * A bare Node.js server for bench/session.ts: it reads distcache request
 * frames and answers each whole request with one fixed 15-byte response
 * (status OK, the request's uid and operation copied in), nothing more. What
 * it costs per round trip is Node's floor for reading one request and writing
 * one answer.
 *
 *   node dist-bench/bench/echo-server.js HOST PORT
 */
import net from 'node:net';

const HEADER_BYTES = 14;
/** proto_level 0x0011, is_response 1, uid, op_class 0, operation, complete 1, data_len 1, status OK. */
const REPLY = Buffer.from([0, 0x11, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0]);

function serve(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    const bytes = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (bytes.length - at >= HEADER_BYTES) {
      const end = at + HEADER_BYTES + bytes.readUInt16BE(at + 12);
      if (end > bytes.length) break;
      if (bytes[at + 11] === 1) {
        const reply = Buffer.from(REPLY);
        bytes.copy(reply, 5, at + 5, at + 9);
        reply[10] = bytes[at + 10]!;
        socket.write(reply);
      }
      at = end;
    }
    pending = at === bytes.length ? undefined : bytes.subarray(at);
  });
}

const [host, port] = process.argv.slice(2);
net.createServer(serve).listen(Number(port), host, () => console.log(`echo listening on ${host}:${port}`));
