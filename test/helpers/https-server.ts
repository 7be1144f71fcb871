import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { CertFiles } from './certs.js';

/** The same on every test server, as a fleet sets it: Node's default comes from process.argv. */
export const SESSION_ID_CONTEXT = 'distcache-tests';

/** An HTTPS server on `host:port` that answers every request with `name`. */
export async function listenHttps(host: string, port: number, files: CertFiles, name: string): Promise<https.Server> {
  const server = https.createServer(
    { key: readFileSync(files.key), cert: readFileSync(files.cert), sessionIdContext: SESSION_ID_CONTEXT },
    (_request, response) => response.end(name),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** Closes the server and every connection it holds. */
export function closeHttps(server: https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
