/**
 * Two HTTPS servers behind an imaginary load balancer share their TLS
 * sessions through distcache: a client that first lands on one server and
 * then on the other resumes its session there instead of doing a full
 * handshake, with TLS 1.3 (tickets sealed with a ticket key both servers
 * agree on through the cache) and with TLS 1.2 (session ids stored in the
 * cache).
 *
 *   npm run example:tls        (needs the openssl command for the certificate)
 *
 * Each server embeds a distcache node; the two nodes form a cluster on
 * 127.0.0.5 and 127.0.0.6. They run in this one process to keep the example
 * short, and talk over real sockets exactly as separate processes do.
 */
import { execFileSync } from 'node:child_process';
import { constants } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { Engine } from 'distcache';
import { StaticDiscovery } from 'distcache/discovery/static';
import { shareTlsSessions } from 'distcache/tls';

const NODE_IPS = ['127.0.0.5', '127.0.0.6'];
const HTTPS_PORT = 8443;
const quiet = { debug() {}, info() {}, warn: console.warn, error: console.error };

/** A self-signed certificate for the servers' IPs, made with openssl in a temporary directory. */
function makeCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(path.join(tmpdir(), 'distcache-tls-fleet-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const subjectAltName = NODE_IPS.map((ip) => `IP:${ip}`).join(',');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'].concat([
        '-subj',
        '/CN=tls-fleet example',
        '-addext',
        `subjectAltName=${subjectAltName}`,
        '-keyout',
        key,
        '-out',
        cert,
      ]),
      { stdio: 'ignore' },
    );
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One GET on a new connection, offering `session`; resolves who answered, whether it resumed, and the next session. */
function visit(
  ip: string,
  options: { ca: Buffer; version: 'TLSv1.2' | 'TLSv1.3'; session?: Buffer; tickets: boolean },
): Promise<{ server: string; resumed: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    let resumed = false;
    let server = '';
    const requestOptions: https.RequestOptions & Pick<ConnectionOptions, 'session'> = {
      host: ip,
      port: HTTPS_PORT,
      agent: false, // a new connection each time, as through a load balancer
      ca: options.ca,
      minVersion: options.version,
      maxVersion: options.version,
      session: options.session,
      secureOptions: options.tickets ? 0 : constants.SSL_OP_NO_TICKET, // without tickets, TLS 1.2 resumes by session id
      headers: { connection: 'close' },
    };
    const request = https.get(requestOptions);
    request.on('socket', (socket: TLSSocket) => {
      socket.on('session', (next: Buffer) => (session = next)); // TLS 1.3 tickets arrive after the handshake
      socket.once('secureConnect', () => (resumed = socket.isSessionReused()));
      socket.once('close', () => resolve({ server, resumed, session }));
    });
    request.on('response', (response) => response.on('data', (chunk: Buffer) => (server += chunk)));
    request.on('error', reject);
  });
}

const { key, cert } = makeCertificate();
const fleet = await Promise.all(
  NODE_IPS.map(async (ip) => {
    const engine = new Engine({
      logger: quiet,
      bindAddr: ip,
      discovery: new StaticDiscovery({ peers: NODE_IPS.map((peer) => `${peer}:3322`) }),
      minimumPeersQuorum: NODE_IPS.length,
      replicaCount: 2, // every session on both nodes: one can die
      // The sessions' keyspace; the `sessionCache` option would create it too, with a distcache protocol listener.
      keyspaces: [{ name: 'ssl-sessions', maxBytes: 16 * 1024 * 1024, replicaReads: true }],
    });
    await engine.start();
    // sessionIdContext must be the same on every server (Node derives its default from the command line).
    const server = https.createServer({ key, cert, sessionIdContext: 'tls-fleet-example' }, (_request, response) =>
      response.end(ip),
    );
    await new Promise<void>((resolve) => server.listen(HTTPS_PORT, ip, resolve));
    const sharing = await shareTlsSessions(server, { engine, logger: quiet });
    return { ip, engine, server, sharing };
  }),
);
console.log(`two HTTPS servers, https://${NODE_IPS[0]}:${HTTPS_PORT} and https://${NODE_IPS[1]}:${HTTPS_PORT}`);

for (const [version, tickets] of [
  ['TLSv1.3', true],
  ['TLSv1.2', false],
] as const) {
  const first = await visit(NODE_IPS[0]!, { ca: cert, version, tickets });
  const second = await visit(NODE_IPS[1]!, { ca: cert, version, tickets, session: first.session });
  console.log(
    `${version} ${tickets ? 'with tickets' : 'with session ids'}: full handshake on ${first.server}, then ` +
      `${second.resumed ? 'resumed' : 'FULL handshake'} on ${second.server}`,
  );
}
for (const { ip, sharing } of fleet) console.log(`${ip}: ${JSON.stringify(sharing.stats())}`);

for (const { server, engine } of fleet) {
  await new Promise((resolve) => server.close(resolve));
  await engine.stop();
}
