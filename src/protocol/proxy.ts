import net from 'node:net';
import type { Logger } from '../logger.js';
import { OutputGate, STALLED_OUTPUT_TIMEOUT_MS } from '../net/output-gate.js';
import { connectOptions, formatSessionAddress, type SessionAddress } from './address.js';
import { DcMessageDecoder, encodeMessage, Status, statusResponse, type DcMessage, type Operation } from './codec.js';
import { listenOn, type ListeningAddress } from './server-socket.js';

/**
 * Requests of one client forwarded and not answered yet, at most. With the
 * output bound, this is what a client that never reads can make the proxy
 * hold: the server's answers to it arrive whether it reads or not.
 */
const MAX_IN_FLIGHT_PER_CLIENT = 8;

/** One client connection: its requests not forwarded yet, and how many are forwarded. */
class ProxyClient {
  readonly waiting: DcMessage[] = [];
  inFlight = 0;
  readonly decoder = new DcMessageDecoder();
  readonly output: OutputGate;

  constructor(
    readonly socket: net.Socket,
    stalledOutputTimeout: number,
    onDrain: () => void,
  ) {
    this.output = new OutputGate(socket, stalledOutputTimeout, onDrain);
  }
}

/** A client request waiting for the server's answer. */
interface Forwarded {
  readonly client: ProxyClient;
  readonly clientUid: number;
  readonly operation: Operation;
}

/** Options of {@link SessionProxy}. */
export interface SessionProxyOptions {
  /** How often (ms) a lost server connection is tried again. */
  readonly retryMs: number;
  /** A client, or the server connection, whose unsent output stays over the bound this long (ms) is closed. Default 60000. */
  readonly stalledOutputTimeout?: number;
}

/**
 * A local proxy like dc_client: applications connect to `listen`, the proxy
 * keeps one persistent connection to `server` and multiplexes their requests
 * over it (renumbering request ids). While the server is unreachable it
 * answers every request itself with DISCONNECTED, and reconnects every
 * `retryMs`. Memory stays bounded whoever does not read: a client with
 * {@link MAX_IN_FLIGHT_PER_CLIENT} requests forwarded, or with unsent
 * answers over the output bound, is read no further until it catches up;
 * while the server does not read, no client is.
 */
export class SessionProxy {
  #listening: ListeningAddress | undefined;
  readonly #clients = new Set<net.Socket>();
  #upstream: net.Socket | undefined;
  #upstreamOutput: OutputGate | undefined;
  #upstreamReady = false;
  #upstreamDecoder = new DcMessageDecoder();
  /** Requests sent upstream, in order: the server answers in order. */
  #forwarded: Forwarded[] = [];
  /** Clients with requests held back while the server connection's output drains. */
  readonly #blocked = new Set<ProxyClient>();
  #nextUid = 1;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #retryMs: number;
  readonly #stalledOutputTimeout: number;

  constructor(
    private readonly listen: SessionAddress,
    private readonly upstream: SessionAddress,
    options: SessionProxyOptions,
    private readonly logger: Logger,
  ) {
    this.#retryMs = options.retryMs;
    this.#stalledOutputTimeout = options.stalledOutputTimeout ?? STALLED_OUTPUT_TIMEOUT_MS;
  }

  /** Listens, and connects upstream (a server that is down is retried, not an error). */
  async start(): Promise<void> {
    this.#listening = await listenOn(this.listen, (socket) => this.#accept(socket));
    this.#connectUpstream();
  }

  /** The bound listen address. */
  address(): string {
    return this.#listening!.address;
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
    await this.#listening?.close();
  }

  #connectUpstream(): void {
    if (this.#stopped) return;
    const socket = net.connect(connectOptions(this.upstream));
    this.#upstream = socket;
    this.#upstreamOutput = new OutputGate(socket, this.#stalledOutputTimeout, () => this.#unblock());
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
      const answered = new Set<ProxyClient>();
      for (const waiting of this.#forwarded.splice(0)) {
        waiting.client.inFlight--;
        this.#reply(waiting, Status.DISCONNECTED);
        answered.add(waiting.client);
      }
      this.#unblock();
      for (const client of answered) this.#pump(client);
      if (!this.#stopped) this.#retryTimer = setTimeout(() => this.#connectUpstream(), this.#retryMs);
    });
  }

  #accept(socket: net.Socket): void {
    this.#clients.add(socket);
    const client = new ProxyClient(socket, this.#stalledOutputTimeout, () => this.#pump(client));
    socket.on('close', () => {
      this.#clients.delete(socket);
      this.#blocked.delete(client);
    });
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const request of client.decoder.push(chunk)) client.waiting.push(request);
      } catch {
        socket.destroy();
        return;
      }
      this.#pump(client);
    });
  }

  /** Forwards (or, while the server is down, answers) what the client sent, as far as the bounds allow. */
  #pump(client: ProxyClient): void {
    const { waiting, socket } = client;
    while (waiting.length > 0 && !socket.destroyed && !client.output.hold()) {
      if (this.#upstreamReady && this.#upstream !== undefined) {
        if (client.inFlight >= MAX_IN_FLIGHT_PER_CLIENT) break;
        if (this.#upstreamOutput!.hold()) {
          this.#blocked.add(client);
          break;
        }
        this.#forward(client, waiting.shift()!, this.#upstream);
      } else {
        const request = waiting.shift()!;
        this.#reply({ client, clientUid: request.requestUid, operation: request.operation }, Status.DISCONNECTED);
      }
    }
    if (waiting.length === 0 && !client.output.waiting) socket.resume();
    else socket.pause();
  }

  /** The server connection drained: the clients held back for it go on. */
  #unblock(): void {
    const blocked = [...this.#blocked];
    this.#blocked.clear();
    for (const client of blocked) this.#pump(client);
  }

  #forward(client: ProxyClient, request: DcMessage, upstream: net.Socket): void {
    const uid = this.#nextUid;
    this.#nextUid = (this.#nextUid % 0xffffffff) + 1;
    client.inFlight++;
    this.#forwarded.push({ client, clientUid: request.requestUid, operation: request.operation });
    upstream.write(encodeMessage({ ...request, requestUid: uid }));
  }

  #deliver(response: DcMessage): void {
    const waiting = this.#forwarded.shift();
    if (waiting === undefined) return;
    const { client } = waiting;
    client.inFlight--;
    if (client.socket.destroyed) return;
    client.socket.write(encodeMessage({ ...response, requestUid: waiting.clientUid }));
    this.#pump(client);
  }

  #reply(waiting: Forwarded, status: number): void {
    const { socket } = waiting.client;
    if (!socket.destroyed) socket.write(statusResponse(waiting.clientUid, waiting.operation, status));
  }
}
