import net from 'node:net';
import type { Logger } from '../logger.js';
import { connectOptions, formatSessionAddress, type SessionAddress } from './address.js';
import { DcMessageDecoder, encodeMessage, Status, statusResponse, type DcMessage, type Operation } from './codec.js';
import { boundAddress, closeServer, listenOn } from './server-socket.js';

/** A client request waiting for the server's answer. */
interface Forwarded {
  readonly client: net.Socket;
  readonly clientUid: number;
  readonly operation: Operation;
}

/**
 * A local proxy like dc_client: applications connect to `listen`, the proxy
 * keeps one persistent connection to `server` and multiplexes their requests
 * over it (renumbering request ids). While the server is unreachable it
 * answers every request itself with DISCONNECTED, and reconnects every
 * `retryMs`.
 */
export class SessionProxy {
  #server: net.Server | undefined;
  readonly #clients = new Set<net.Socket>();
  #upstream: net.Socket | undefined;
  #upstreamReady = false;
  #upstreamDecoder = new DcMessageDecoder();
  /** Requests sent upstream, in order: the server answers in order. */
  #forwarded: Forwarded[] = [];
  #nextUid = 1;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly listen: SessionAddress,
    private readonly upstream: SessionAddress,
    private readonly retryMs: number,
    private readonly logger: Logger,
  ) {}

  /** Listens, and connects upstream (a server that is down is retried, not an error). */
  async start(): Promise<void> {
    this.#server = await listenOn(this.listen, (socket) => this.#accept(socket));
    this.#connectUpstream();
  }

  /** The bound listen address. */
  address(): string {
    return boundAddress(this.#server!);
  }

  /** Whether the upstream connection is up. */
  get connected(): boolean {
    return this.#upstreamReady;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#upstream?.destroy();
    for (const client of this.#clients) client.destroy();
    if (this.#server) await closeServer(this.#server);
  }

  #connectUpstream(): void {
    if (this.#stopped) return;
    const socket = net.connect(connectOptions(this.upstream));
    this.#upstream = socket;
    this.#upstreamDecoder = new DcMessageDecoder();
    socket.setNoDelay?.(true);
    socket.on('connect', () => {
      this.#upstreamReady = true;
      this.logger.info({ server: formatSessionAddress(this.upstream) }, 'proxy connected to the server');
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const response of this.#upstreamDecoder.push(chunk)) this.#deliver(response);
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'the server sent corrupt bytes; reconnecting');
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.#upstream !== socket) return;
      this.#upstreamReady = false;
      this.#upstream = undefined;
      for (const waiting of this.#forwarded.splice(0)) this.#reply(waiting, Status.DISCONNECTED);
      if (!this.#stopped) this.#retryTimer = setTimeout(() => this.#connectUpstream(), this.retryMs);
    });
  }

  #accept(client: net.Socket): void {
    this.#clients.add(client);
    client.on('close', () => this.#clients.delete(client));
    client.on('error', () => client.destroy());
    const decoder = new DcMessageDecoder();
    client.on('data', (chunk: Buffer) => {
      let requests: DcMessage[];
      try {
        requests = decoder.push(chunk);
      } catch {
        client.destroy();
        return;
      }
      for (const request of requests) this.#forward(client, request);
    });
  }

  #forward(client: net.Socket, request: DcMessage): void {
    const waiting = { client, clientUid: request.requestUid, operation: request.operation };
    if (!this.#upstreamReady || this.#upstream === undefined) {
      this.#reply(waiting, Status.DISCONNECTED);
      return;
    }
    const uid = this.#nextUid;
    this.#nextUid = (this.#nextUid % 0xffffffff) + 1;
    this.#forwarded.push(waiting);
    this.#upstream.write(encodeMessage({ ...request, requestUid: uid }));
  }

  #deliver(response: DcMessage): void {
    const waiting = this.#forwarded.shift();
    if (waiting === undefined) return;
    if (!waiting.client.destroyed) waiting.client.write(encodeMessage({ ...response, requestUid: waiting.clientUid }));
  }

  #reply(waiting: Forwarded, status: number): void {
    if (!waiting.client.destroyed) waiting.client.write(statusResponse(waiting.clientUid, waiting.operation, status));
  }
}
