import { timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config.js';
import { DistCacheError, ErrorCode, isDistCacheError } from '../errors.js';
import type { Logger } from '../logger.js';
import { listenOrFail } from '../net/stream-server.js';
import type { EngineMetrics } from '../observability/metrics.js';
import { AdminRoutes, type AdminView, type Reply } from './routes.js';

/** Connections the admin server holds at once; operators and scrapers need few. */
const MAX_CONNECTIONS = 256;
/** Longest a request may take to arrive, headers included. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Longest URL accepted (path and query). */
const MAX_URL_BYTES = 4_096;

/**
 * The admin HTTP(S) server: JSON endpoints over an {@link AdminView}, the
 * Prometheus metrics and the dashboard page. Requests carry no body; every
 * failure is a JSON error with a library error code and a 4xx status, and a
 * handler that throws anything else answers 500 without taking the node down.
 */
export class AdminServer {
  readonly #server: http.Server;
  readonly #routes: AdminRoutes;
  readonly #token: Buffer | undefined;
  readonly #logger: Logger;

  private constructor(config: AdminConfig, view: AdminView, metrics: EngineMetrics, logger: Logger) {
    this.#routes = new AdminRoutes(view, metrics);
    this.#token = config.token === undefined ? undefined : Buffer.from(`Bearer ${config.token}`);
    this.#logger = logger;
    const handle = (request: IncomingMessage, response: ServerResponse) => void this.#handle(request, response);
    this.#server = config.tls
      ? https.createServer({ key: config.tls.key, cert: config.tls.cert }, handle)
      : http.createServer(handle);
    this.#server.maxConnections = MAX_CONNECTIONS;
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
    let reply: Reply;
    try {
      reply = await this.#route(request);
    } catch (error) {
      reply = errorReply(error);
      if (reply.status >= 500)
        this.#logger.error({ err: (error as Error)?.message, url: request.url }, 'admin request failed');
    }
    if (response.destroyed) return;
    response.writeHead(reply.status, {
      'content-type': reply.contentType,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    response.end(request.method === 'HEAD' ? undefined : reply.body);
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

  /** Mutations need the bearer token when one is set. */
  #authorize(request: IncomingMessage): void {
    if (this.#token === undefined) return;
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== this.#token.length || !timingSafeEqual(given, this.#token)) {
      throw new DistCacheError(ErrorCode.UNAUTHORIZED, 'this endpoint needs "Authorization: Bearer <admin.token>"');
    }
  }
}

/** HTTP status of each library error code an admin request can meet. */
const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.KEYSPACE_NOT_FOUND]: 404,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
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
