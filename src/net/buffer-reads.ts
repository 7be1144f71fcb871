import net from 'node:net';
import tls from 'node:tls';

/**
 * The three fields of a `net.Socket` behind its public `onread` option
 * (Node's lib/net.js and internal/stream_base_commons.js), found by name on a
 * probe socket; undefined when this Node names them otherwise.
 */
const ONREAD_FIELDS = findOnreadFields();

function findOnreadFields(): { buffer: symbol; callback: symbol; generator: symbol } | undefined {
  const probe = new net.Socket();
  const named = new Map(Object.getOwnPropertySymbols(probe).map((field) => [field.description, field]));
  probe.destroy();
  const buffer = named.get('kBuffer');
  const callback = named.get('kBufferCb');
  const generator = named.get('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : undefined;
}

/** The part of a socket's libuv handle this module uses (a TCP or pipe handle, StreamBase). */
interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/**
 * Makes an accepted plain (TCP or UNIX) socket read into `buffer`, and hand
 * each read to `onBytes` as a view of it, instead of emitting `data` with a
 * fresh buffer per read. This is what Node's `onread` socket option does,
 * which `net.Server` does not offer for the sockets it accepts: no allocation
 * and no stream bookkeeping per read. (bench/minimal-session-server.ts under
 * 8 dc_test clients went from 11.6 to 9.3-10.2 µs of CPU per request.)
 *
 * The view is valid only during the call: the next read on any socket sharing
 * `buffer` overwrites it, so `onBytes` copies whatever it keeps. `pause()`,
 * `resume()`, the idle timeout, `end` and `close` work as with `data`.
 *
 * Returns false, changing nothing, where this is not available (a TLS socket,
 * a Node whose socket internals differ): read `data` events then. Call it in
 * the `connection` listener, before the first read.
 */
export function readIntoBuffer(socket: net.Socket, buffer: Buffer, onBytes: (bytes: Buffer) => void): boolean {
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (ONREAD_FIELDS === undefined || socket instanceof tls.TLSSocket || typeof handle?.useUserBuffer !== 'function')
    return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[ONREAD_FIELDS.buffer] = buffer;
  fields[ONREAD_FIELDS.generator] = null;
  fields[ONREAD_FIELDS.callback] = (bytesRead: number) => {
    onBytes(buffer.subarray(0, bytesRead));
  };
  handle.useUserBuffer(buffer);
  return true;
}
