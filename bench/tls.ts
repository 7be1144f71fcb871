/**
 * What sharing TLS sessions saves (distcache/tls): handshakes per second on
 * one server wired to distcache, full handshakes against resumed ones, with
 * TLS 1.2 (the session id looked up in the engine) and TLS 1.3 (a ticket
 * sealed with the agreed key), for an ECDSA P-256 and an RSA 2048
 * certificate, side by side in one run; and the server's CPU time per
 * handshake. The last rows compare the server CPU of a full TLS 1.3
 * handshake on wired servers with a plain Node server: what the wiring
 * itself costs, with session ids and with ticket keys only.
 *
 * The servers run in a child process with an engine; this process is the
 * client, with CONNECTIONS handshakes in flight, each on a new connection
 * closed at once.
 *
 *   npm run bench:tls      (writes bench/results/tls.json; needs the openssl command)
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { constants } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Engine, type Logger } from '../src/index.js';
import { shareTlsSessions, type ShareTlsSessionsOptions, type TlsSessionSharing } from '../src/tls/index.js';
import { interleavedMedians, report, row, type BenchRow } from './harness.js';

const HOST = '127.0.100.50';
const CONNECTIONS = 8;
const TRIAL_MS = 2_000;
const ROUNDS = 7;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

type Version = 'TLSv1.2' | 'TLSv1.3';
type KeyType = 'ecdsa' | 'rsa';

/** The servers of the child process: a port, a certificate, and how the server is wired (undefined: plain Node). */
const SERVERS = {
  ecdsa: { port: 4601, key: 'ecdsa', wiring: {} },
  rsa: { port: 4602, key: 'rsa', wiring: {} },
  plain: { port: 4603, key: 'ecdsa', wiring: undefined },
  ticketsOnly: { port: 4604, key: 'ecdsa', wiring: { sessionIds: false } },
} as const satisfies Record<
  string,
  { port: number; key: KeyType; wiring: Partial<ShareTlsSessionsOptions> | undefined }
>;
type ServerName = keyof typeof SERVERS;

const CERTIFICATE_NAMES: Record<KeyType, string> = { ecdsa: 'ECDSA P-256', rsa: 'RSA 2048' };

/** A self-signed certificate for HOST, made with openssl. */
function selfSigned(type: KeyType): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(path.join(tmpdir(), 'distcache-bench-tls-'));
  try {
    const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
    const keyArgs =
      type === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
    execFileSync(
      'openssl',
      ['req', '-x509', ...keyArgs, '-nodes', '-days', '1', '-subj', '/CN=bench'].concat([
        '-addext',
        `subjectAltName=IP:${HOST}`,
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

/** In the child: the servers; answers `cpu` with its CPU time in µs. */
async function serve(certificates: Record<KeyType, { key: string; cert: string }>): Promise<void> {
  const engine = new Engine({
    logger: silent,
    keyspaces: [{ name: 'ssl-sessions', maxBytes: 64 * 1024 * 1024, replicaReads: true }],
  });
  await engine.start();
  // One byte of data: Node sends TLS 1.3 tickets with the first write, and none on a connection ended without one.
  const onConnection = (socket: tls.TLSSocket) => {
    socket.on('error', () => undefined);
    socket.end('.');
  };
  const sharings = new Map<string, TlsSessionSharing>();
  for (const [name, { port, key, wiring }] of Object.entries(SERVERS)) {
    const certificate = certificates[key];
    const server = tls.createServer({ ...certificate, sessionIdContext: 'bench' }, onConnection);
    server.on('tlsClientError', () => undefined);
    if (wiring) {
      // The longest rotation: a new key in the middle of the run would turn the resumed TLS 1.3 trials into full ones.
      const ticketKeys = { rotationInterval: 604_800_000 };
      sharings.set(name, await shareTlsSessions(server, { engine, logger: silent, ticketKeys, ...wiring }));
    }
    await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  }
  process.on('message', (message: string) => {
    if (message !== 'cpu') return;
    const { user, system } = process.cpuUsage();
    const counters = Object.fromEntries([...sharings].map(([name, sharing]) => [name, sharing.stats()]));
    process.send!({ cpu: user + system, counters });
  });
  process.send!({ ready: true });
}

/** The server process, and its CPU time on request. */
class ServerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  #waiting: ((reply: { cpu: number; counters: unknown }) => void) | undefined;

  constructor(certificates: Record<KeyType, { key: Buffer; cert: Buffer }>) {
    this.child = fork(new URL(import.meta.url).pathname, ['server'], { execArgv: process.execArgv });
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (message: { ready?: true; cpu?: number; counters?: unknown }) => {
        if (message.ready) resolve();
        if (message.cpu !== undefined) this.#waiting?.({ cpu: message.cpu, counters: message.counters });
      });
      this.child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const pem = (each: { key: Buffer; cert: Buffer }) => ({ key: each.key.toString(), cert: each.cert.toString() });
    this.child.send({ certificates: { ecdsa: pem(certificates.ecdsa), rsa: pem(certificates.rsa) } });
  }

  /** The server's CPU time so far (µs) and its distcache/tls counters. */
  usage(): Promise<{ cpu: number; counters: unknown }> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.child.send('cpu');
    });
  }
}

/**
 * One handshake on a new connection; resolves whether it resumed. With
 * `collect`, it waits for the server to close, so that the TLS 1.3 tickets
 * that follow the handshake arrive, and resolves the last session given.
 */
function handshake(
  port: number,
  ca: Buffer,
  version: Version,
  session: Buffer | undefined,
  collect = false,
): Promise<{ reused: boolean; session?: Buffer }> {
  return new Promise((resolve, reject) => {
    let next: Buffer | undefined;
    let reused = false;
    const socket = tls.connect({
      host: HOST,
      port,
      ca,
      minVersion: version,
      maxVersion: version,
      session,
      // TLS 1.2 without tickets resumes by session id: through the cache.
      secureOptions: version === 'TLSv1.2' ? constants.SSL_OP_NO_TICKET : 0,
    });
    socket.on('session', (value: Buffer) => (next = value));
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      if (!collect) socket.destroy();
    });
    socket.on('data', () => undefined);
    socket.once('close', () => resolve({ reused, ...(next ? { session: next } : {}) }));
    socket.once('error', reject);
  });
}

/** Handshakes per second and server CPU µs per handshake, `CONNECTIONS` at once for TRIAL_MS. */
async function trial(
  server: ServerProcess,
  port: number,
  ca: Buffer,
  version: Version,
  session: Buffer | undefined,
): Promise<{ perSecond: number; cpuPerHandshake: number }> {
  const cpuBefore = (await server.usage()).cpu;
  const started = performance.now();
  let count = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() - started < TRIAL_MS) {
        const result = await handshake(port, ca, version, session);
        if (result.reused !== (session !== undefined))
          throw new Error(`${version} on port ${port}: expected ${session ? 'a resumed' : 'a full'} handshake`);
        count++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = (await server.usage()).cpu - cpuBefore;
  return { perSecond: count / elapsed, cpuPerHandshake: cpu / count };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const certificates = { ecdsa: selfSigned('ecdsa'), rsa: selfSigned('rsa') };
  const server = new ServerProcess(certificates);
  try {
    await server.ready;
    const cpu: Record<string, number[]> = {};
    const contenders: Record<string, () => Promise<number>> = {};
    const add = async (name: ServerName, version: Version, resumed: boolean) => {
      const { port, key } = SERVERS[name];
      const ca = certificates[key].cert;
      const session = resumed ? (await handshake(port, ca, version, undefined, true)).session : undefined;
      if (resumed && session === undefined) throw new Error(`${name} ${version}: the server gave no session to resume`);
      const label = `${name} ${version} ${resumed ? 'resumed' : 'full'}`;
      contenders[label] = async () => {
        const result = await trial(server, port, ca, version, session);
        (cpu[label] ??= []).push(result.cpuPerHandshake);
        return result.perSecond;
      };
      return label;
    };
    const pairs: { name: KeyType; version: Version; full: string; resumed: string }[] = [];
    for (const name of ['ecdsa', 'rsa'] as const)
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const)
        pairs.push({ name, version, full: await add(name, version, false), resumed: await add(name, version, true) });
    const plain = await add('plain', 'TLSv1.3', false);
    const ticketsOnly = await add('ticketsOnly', 'TLSv1.3', false);
    const rates = await interleavedMedians(contenders, ROUNDS);
    const { counters } = await server.usage();

    const rows: BenchRow[] = [];
    for (const { name, version, full, resumed } of pairs) {
      const how = version === 'TLSv1.2' ? 'session id from the engine' : 'ticket, agreed key';
      const tlsName = version.replace('TLSv', 'TLS ');
      rows.push(
        row(
          `${tlsName} resumed handshakes/s, ${CERTIFICATE_NAMES[name]} (${how})`,
          rates[resumed]!,
          `full ${tlsName} handshakes, same server`,
          rates[full]!,
          'handshakes/s',
        ),
      );
    }
    for (const { name, version, full, resumed } of pairs) {
      const tlsName = version.replace('TLSv', 'TLS ');
      rows.push(
        row(
          `server CPU per resumed ${tlsName} handshake, ${CERTIFICATE_NAMES[name]}`,
          median(cpu[resumed]!),
          `per full ${tlsName} handshake`,
          median(cpu[full]!),
          'µs',
        ),
      );
    }
    const wiredFull13 = pairs.find((pair) => pair.name === 'ecdsa' && pair.version === 'TLSv1.3')!.full;
    rows.push(
      row(
        'server CPU per full TLS 1.3 handshake, wired',
        median(cpu[wiredFull13]!),
        'a plain Node tls.Server',
        median(cpu[plain]!),
        'µs',
      ),
      row(
        'server CPU per full TLS 1.3 handshake, wired with sessionIds: false',
        median(cpu[ticketsOnly]!),
        'a plain Node tls.Server',
        median(cpu[plain]!),
        'µs',
      ),
    );
    report('tls', rows, [
      `tls.Servers in a child process with an in-process engine; ${CONNECTIONS} handshakes in flight from this process, each on a new connection; median of ${ROUNDS} interleaved ${TRIAL_MS / 1000} s trials`,
      'TLS 1.2 clients send no ticket extension, so they resume by session id, looked up in the engine; TLS 1.3 clients resume with a ticket sealed by the key agreed through the cache. A TLS 1.3 resumption still runs an ECDHE exchange (psk_dhe_ke) and the server still issues a new ticket: it saves the certificate signature and its transfer, a large share of the work with RSA, a small one with ECDSA',
      'wired servers look up the random session id every TLS 1.3 client sends (Node asks for every ClientHello that carries one) unless sessionIds is false; the last two rows show what the wiring costs a full handshake (ECDSA certificate)',
      'client and server share the 2 cores of this machine: handshakes/s is bounded by both; the server CPU rows are the server process alone',
      `server counters at the end: ${JSON.stringify(counters)}`,
    ]);
  } finally {
    server.child.kill('SIGKILL');
  }
}

if (process.argv[2] === 'server') {
  process.once('message', (message: { certificates: Record<KeyType, { key: string; cert: string }> }) => {
    void serve(message.certificates);
  });
} else await main();
