import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { AdminConfig } from '../config.js';
import { DistCacheError, ErrorCode, isDistCacheError } from '../errors.js';
import type { Logger } from '../logger.js';
import { listenOrFail } from '../net/stream-server.js';
import type { EngineMetrics } from '../observability/metrics.js';
import { AnswerBacklog } from './answer-backlog.js';
import { ConnectionSlots } from './connection-slots.js';
import { AdminRoutes, type AdminView, type Reply } from './routes.js';

/** Connections the admin server holds at once; operators and scrapers need few. At the cap the oldest is closed. */
const MAX_CONNECTIONS = 256;
/** Longest a request may take to arrive, headers included. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Longest a connection may keep more than the output bound unread before it is closed. */
const STALLED_OUTPUT_TIMEOUT_MS = 10_000;
/** About the bytes of an answer's status line and headers, counted with its body while it waits to be sent. */
const HEAD_BYTES = 200;
/** Longest URL accepted (path and query). */
const MAX_URL_BYTES = 4_096;

/**
 * The admin HTTP(S) server: JSON endpoints over an {@link AdminView}, the
 * Prometheus metrics and the dashboard page. Requests carry no body (one
 * that does is answered 413 and its connection closed, unread); every
 * failure is a JSON error with a library error code and a 4xx status, and a
 * handler that throws anything else answers 500 without taking the node down.
 * Node's HTTP server stops reading a connection whose answers are not read
 * (pipelining); such a connection is closed once more than the output bound
 * of answers has waited for {@link STALLED_OUTPUT_TIMEOUT_MS} (see {@link AnswerBacklog}).
 */
export class AdminServer {
  readonly #server: http.Server;
  readonly #routes: AdminRoutes;
  /** SHA-256 of the admin token: comparing digests takes the same time whatever the length of the guess. */
  readonly #tokenDigest: Buffer | undefined;
  readonly #logger: Logger;
  readonly #backlogs = new WeakMap<Socket, AnswerBacklog>();

  private constructor(config: AdminConfig, view: AdminView, metrics: EngineMetrics, logger: Logger) {
    this.#routes = new AdminRoutes(view, metrics);
    this.#tokenDigest = config.token === undefined ? undefined : sha256(config.token);
    this.#logger = logger;
    const handle = (request: IncomingMessage, response: ServerResponse) => void this.#handle(request, response);
    this.#server = config.tls
      ? https.createServer({ key: config.tls.key, cert: config.tls.cert }, handle)
      : http.createServer(handle);
    const slots = new ConnectionSlots(MAX_CONNECTIONS);
    this.#server.on('connection', (socket: Socket) => slots.admit(socket));
    this.#server.requestTimeout = REQUEST_TIMEOUT_MS;
    this.#server.headersTimeout = REQUEST_TIMEOUT_MS;
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Listens on the configured address; a port in use is ERR_INVALID_CONFIG naming it. */
  static async start(
    config: AdminConfig,
    view: AdminView,
    metrics: EngineMetrics,
    logger: Logger,
  ): Promise<AdminServer> {
    const admin = new AdminServer(config, view, metrics, logger);
    await listenOrFail(
      admin.#server,
      { host: config.host, port: config.port },
      { what: 'admin', hint: '; change admin.listen' },
    );
    logger.info({ url: admin.url }, 'distcache admin server started');
    return admin;
  }

  /** Base URL, e.g. `http://127.0.0.1:9464`. */
  get url(): string {
    const { address, family, port } = this.#server.address() as AddressInfo;
    const host = family === 'IPv6' ? `[${address}]` : address;
    return `${this.#server instanceof https.Server ? 'https' : 'http'}://${host}:${port}`;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.#server.close(resolve));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (hasBody(request)) {
      // Answered at once and closed: reading (even to discard) a body a client says is gigabytes long is its attack.
      const refusal = new DistCacheError(ErrorCode.CONTENT_TOO_LARGE, 'the admin API takes no request body');
      this.#send(request, response, errorReply(refusal), { connection: 'close' });
      return;
    }
    let reply: Reply;
    try {
      reply = await this.#route(request);
    } catch (error) {
      reply = errorReply(error);
      if (reply.status >= 500)
        this.#logger.error({ err: (error as Error)?.message, url: request.url }, 'admin request failed');
    }
    this.#send(request, response, reply);
  }

  #send(request: IncomingMessage, response: ServerResponse, reply: Reply, headers: Record<string, string> = {}): void {
    if (response.destroyed) return;
    response.writeHead(reply.status, {
      'content-type': reply.contentType,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    const body = request.method === 'HEAD' ? undefined : reply.body;
    this.#backlogOf(request.socket).track(HEAD_BYTES + (body === undefined ? 0 : Buffer.byteLength(body)), (done) =>
      response.once('finish', done),
    );
    response.end(body);
  }

  #backlogOf(socket: Socket): AnswerBacklog {
    let backlog = this.#backlogs.get(socket);
    if (backlog === undefined) {
      backlog = new AnswerBacklog(socket, STALLED_OUTPUT_TIMEOUT_MS);
      this.#backlogs.set(socket, backlog);
    }
    return backlog;
  }

  #route(request: IncomingMessage): Promise<Reply> {
    const target = request.url ?? '/';
    if (Buffer.byteLength(target) > MAX_URL_BYTES)
      throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, `the URL is longer than ${MAX_URL_BYTES} bytes`);
    let url: URL;
    try {
      url = new URL(target, 'http://admin');
    } catch {
      throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, 'the URL cannot be parsed');
    }
    const method = request.method ?? 'GET';
    if (method === 'DELETE') this.#authorize(request);
    return this.#routes.handle(method === 'HEAD' ? 'GET' : method, url);
  }

  /** Mutations need the bearer token when one is set; the scheme is case-insensitive (RFC 9110). */
  #authorize(request: IncomingMessage): void {
    if (this.#tokenDigest === undefined) return;
    const credentials = /^bearer +(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (credentials === undefined || !timingSafeEqual(sha256(credentials), this.#tokenDigest)) {
      throw new DistCacheError(ErrorCode.UNAUTHORIZED, 'this endpoint needs "Authorization: Bearer <admin.token>"');
    }
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Whether a request announces a body: a Content-Length other than 0, or any Transfer-Encoding (chunked). */
function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && Number(length) !== 0) || request.headers['transfer-encoding'] !== undefined;
}

/** HTTP status of each library error code an admin request can meet. */
const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.KEYSPACE_NOT_FOUND]: 404,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
  [ErrorCode.KEYSPACE_IN_USE]: 409,
  [ErrorCode.CONTENT_TOO_LARGE]: 413,
  [ErrorCode.ENGINE_NOT_STARTED]: 503,
  [ErrorCode.PEER_UNAVAILABLE]: 503,
  [ErrorCode.TIMEOUT]: 504,
};

function errorReply(error: unknown): Reply {
  const code = isDistCacheError(error) ? error.code : 'ERR_INTERNAL';
  const status = (isDistCacheError(error) && STATUS_OF[error.code]) || 500;
  const message = isDistCacheError(error) ? error.message : 'internal error';
  return { status, contentType: 'application/json', body: JSON.stringify({ error: { code, message } }) };
}
