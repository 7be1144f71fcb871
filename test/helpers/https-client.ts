import { constants } from 'node:crypto';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

/** How one HTTPS request went. */
export interface HttpsVisit {
  /** The response body (the test servers answer their name). */
  readonly body: string;
  /** Whether the handshake resumed the session offered. */
  readonly reused: boolean;
  /** The last session (or ticket) the server gave, to offer next time. */
  readonly session: Buffer | undefined;
  /** Milliseconds from the request to the closed connection. */
  readonly ms: number;
}

export interface VisitOptions {
  /** PEM of the CA that signed the server's certificate. */
  ca: Buffer;
  version: 'TLSv1.2' | 'TLSv1.3';
  /** A session from an earlier visit, to resume. */
  session?: Buffer;
  /** A client without ticket support: TLS 1.2 then resumes by session id only. */
  noTickets?: boolean;
}

/**
 * One GET on a fresh connection (no agent cache), as a client arriving
 * through a load balancer: offers `session` if given, and collects the
 * session the server hands out (TLS 1.3 tickets arrive after the handshake,
 * so it waits for the connection to close).
 */
export function visit(host: string, port: number, options: VisitOptions): Promise<HttpsVisit> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    let reused = false;
    let body = '';
    const request = https.get({
      host,
      port,
      path: '/',
      agent: false,
      ca: options.ca,
      minVersion: options.version,
      maxVersion: options.version,
      headers: { connection: 'close' },
      ...(options.session ? { session: options.session } : {}),
      ...(options.noTickets ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
    });
    request.setTimeout(10_000, () => request.destroy(new Error(`no answer from ${host}:${port} in 10 s`)));
    request.on('socket', (socket: TLSSocket) => {
      socket.on('session', (next: Buffer) => (session = next));
      socket.once('secureConnect', () => (reused = socket.isSessionReused()));
      socket.once('close', () => resolve({ body, reused, session, ms: performance.now() - started }));
    });
    request.on('response', (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
    });
    request.on('error', reject);
  });
}
