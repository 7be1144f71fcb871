import net from 'node:net';
import tls from 'node:tls';
import { DistCacheError, ErrorCode } from '../errors.js';
import { connectOptions, type SessionAddress } from './address.js';
import { DcMessageDecoder, encodeMessage, type DcMessage, type Operation } from './codec.js';

/** TLS options for connecting to a TLS listener. */
export type DcClientTls = tls.ConnectionOptions;

/**
 * One connection to a distcache server (dc_server, `distcache serve`, a
 * proxy), speaking the wire protocol. Requests may be pipelined; the server
 * answers in order, so replies are matched first in, first out, and their
 * request_uid is checked.
 */
export class DcClient {
  readonly #socket: net.Socket;
  readonly #decoder = new DcMessageDecoder();
  readonly #pending: { uid: number; resolve(message: DcMessage): void; reject(error: Error): void }[] = [];
  readonly connected: Promise<void>;
  /** Resolves, with the reason, once the connection is closed for good. */
  readonly closed: Promise<Error>;
  #nextUid = 1;
  #failure: Error | undefined;

  constructor(address: SessionAddress, options: { tls?: DcClientTls; timeoutMs?: number } = {}) {
    const target = connectOptions(address);
    this.#socket = options.tls ? tls.connect({ ...target, ...options.tls }) : net.connect(target);
    this.#socket.setNoDelay?.(true);
    if (options.timeoutMs)
      this.#socket.setTimeout(options.timeoutMs, () =>
        this.#socket.destroy(new Error(`no answer within ${options.timeoutMs} ms`)),
      );
    this.connected = new Promise((resolve, reject) => {
      this.#socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      this.#socket.once('error', reject);
    });
    this.connected.catch(() => undefined);
    this.#socket.on('data', (chunk: Buffer) => {
      try {
        for (const message of this.#decoder.push(chunk)) this.#settle(message);
      } catch (error) {
        this.#socket.destroy(error as Error);
      }
    });
    this.#socket.on('error', (error) => (this.#failure = error));
    this.closed = new Promise((resolve) =>
      this.#socket.on('close', () => {
        const reason = this.#failure ?? new Error('connection closed');
        this.#failAll(reason);
        resolve(reason);
      }),
    );
  }

  /** Sends one request; resolves the response message. */
  request(operation: Operation, data: Uint8Array): Promise<DcMessage> {
    if (this.#socket.destroyed)
      return Promise.reject(this.#unavailable(this.#failure ?? new Error('connection closed')));
    const uid = this.#nextUid;
    this.#nextUid = (this.#nextUid % 0xffffffff) + 1;
    return new Promise((resolve, reject) => {
      this.#pending.push({ uid, resolve, reject });
      this.#socket.write(encodeMessage({ isResponse: false, requestUid: uid, operation, data }));
    });
  }

  /** Closes the connection. */
  close(): void {
    this.#socket.end();
    this.#socket.destroy();
  }

  #settle(message: DcMessage): void {
    const pending = this.#pending.shift();
    if (pending === undefined || !message.isResponse || message.requestUid !== pending.uid) {
      this.#socket.destroy(new Error(`unexpected response uid ${message.requestUid}`));
      pending?.reject(
        new DistCacheError(
          ErrorCode.PROTOCOL,
          `distcache protocol: response uid ${message.requestUid} does not answer request ${pending.uid}`,
        ),
      );
      return;
    }
    pending.resolve(message);
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.splice(0)) pending.reject(this.#unavailable(error));
  }

  #unavailable(error: Error): DistCacheError {
    return new DistCacheError(ErrorCode.PEER_UNAVAILABLE, `distcache server unavailable: ${error.message}`, {
      cause: error,
    });
  }
}
