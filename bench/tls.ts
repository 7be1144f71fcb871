/**
 * What sharing TLS sessions saves (distcache/tls): handshakes per second on
 * one server wired to distcache, full handshakes against resumed ones, with
 * TLS 1.2 (the session id looked up in the engine) and TLS 1.3 (a ticket
 * sealed with the agreed key), side by side in one run; and the server's CPU
 * time per handshake. A last row compares full TLS 1.3 handshakes on the
 * wired server with a plain Node server: the cost of the wiring itself,
 * with session ids and with ticket keys only.
 *
 * The server runs in a child process (an engine with the session keyspace,
 * a wired tls.Server and a plain one); this process is the client, with
 * CONNECTIONS handshakes in flight, each on a new connection closed at once.
 *
 *   npm run bench:tls      (writes bench/results/tls.json)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { Engine, type Logger } from '../src/index.js';
import { shareTlsSessions } from '../src/tls/index.js';
import { TestCa } from '../test/helpers/certs.js';
import { interleavedMedians, report, row } from './harness.js';

const HOST = '127.0.100.50';
const WIRED_PORT = 4601;
const PLAIN_PORT = 4602;
const TICKETS_ONLY_PORT = 4603;
const CONNECTIONS = 8;
const TRIAL_MS = 2_000;
const ROUNDS = 7;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

type Version = 'TLSv1.2' | 'TLSv1.3';

/** In the child: the servers; answers `cpu` requests with its CPU time in µs. */
async function serve(files: { key: string; cert: string }): Promise<void> {
  const engine = new Engine({
    logger: silent,
    keyspaces: [{ name: 'ssl-sessions', maxBytes: 64 * 1024 * 1024, replicaReads: true }],
  });
  await engine.start();
  const options = { key: readFileSync(files.key), cert: readFileSync(files.cert), sessionIdContext: 'bench' };
  const onConnection = (socket: tls.TLSSocket) => {
    socket.on('error', () => undefined);
    socket.end();
  };
  const wired = tls.createServer(options, onConnection);
  const plain = tls.createServer(options, onConnection);
  const ticketsOnly = tls.createServer(options, onConnection);
  const sharing = await shareTlsSessions(wired, { engine, logger: silent });
  await shareTlsSessions(ticketsOnly, { engine, logger: silent, sessionIds: false });
  for (const [server, port] of [
    [wired, WIRED_PORT],
    [plain, PLAIN_PORT],
    [ticketsOnly, TICKETS_ONLY_PORT],
  ] as const) {
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  }
  process.on('message', (message: string) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ cpu: user + system, stats: sharing.stats() });
    }
  });
  process.send!({ ready: true });
}

/** The server process, and its CPU time on request. */
class ServerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  #waiting: ((reply: { cpu: number; stats: unknown }) => void) | undefined;

  constructor(files: { key: string; cert: string }) {
    this.child = fork(new URL(import.meta.url).pathname, ['server', files.key, files.cert], {
      execArgv: process.execArgv,
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (message: { ready?: true; cpu?: number; stats?: unknown }) => {
        if (message.ready) resolve();
        if (message.cpu !== undefined) this.#waiting?.({ cpu: message.cpu, stats: message.stats });
      });
      this.child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
  }

  /** The server's CPU time so far (µs) and its distcache/tls counters. */
  usage(): Promise<{ cpu: number; stats: unknown }> {
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
          throw new Error(`${version}: expected ${session ? 'a resumed' : 'a full'} handshake`);
        count++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = (await server.usage()).cpu - cpuBefore;
  return { perSecond: count / elapsed, cpuPerHandshake: cpu / count };
}

async function main(): Promise<void> {
  const ca = new TestCa('bench-tls');
  const files = ca.issue('server', [HOST]);
  const caPem = readFileSync(ca.ca.cert);
  const server = new ServerProcess(files);
  try {
    await server.ready;
    const sessions = {} as Record<Version, Buffer>;
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const first = await handshake(WIRED_PORT, caPem, version, undefined, true);
      sessions[version] = first.session!;
    }
    const cpu: Record<string, number[]> = {};
    const measured = (name: string, port: number, version: Version, session: Buffer | undefined) => async () => {
      const result = await trial(server, port, caPem, version, session);
      (cpu[name] ??= []).push(result.cpuPerHandshake);
      return result.perSecond;
    };
    const rates = await interleavedMedians(
      {
        full12: measured('full12', WIRED_PORT, 'TLSv1.2', undefined),
        resumed12: measured('resumed12', WIRED_PORT, 'TLSv1.2', sessions['TLSv1.2']),
        full13: measured('full13', WIRED_PORT, 'TLSv1.3', undefined),
        resumed13: measured('resumed13', WIRED_PORT, 'TLSv1.3', sessions['TLSv1.3']),
        plain13: measured('plain13', PLAIN_PORT, 'TLSv1.3', undefined),
        ticketsOnly13: measured('ticketsOnly13', TICKETS_ONLY_PORT, 'TLSv1.3', undefined),
      },
      ROUNDS,
    );
    const medianCpu = (name: string) => [...cpu[name]!].sort((a, b) => a - b)[Math.floor(cpu[name]!.length / 2)]!;
    const { stats } = await server.usage();
    report(
      'tls',
      [
        row(
          'TLS 1.2 resumed handshakes/s (session id from the engine)',
          rates.resumed12,
          'full TLS 1.2 handshakes, same server',
          rates.full12,
          'handshakes/s',
        ),
        row(
          'TLS 1.3 resumed handshakes/s (ticket, agreed key)',
          rates.resumed13,
          'full TLS 1.3 handshakes, same server',
          rates.full13,
          'handshakes/s',
        ),
        row(
          'server CPU per resumed TLS 1.2 handshake',
          medianCpu('resumed12'),
          'per full TLS 1.2 handshake',
          medianCpu('full12'),
          'µs',
        ),
        row(
          'server CPU per resumed TLS 1.3 handshake',
          medianCpu('resumed13'),
          'per full TLS 1.3 handshake',
          medianCpu('full13'),
          'µs',
        ),
        row(
          'full TLS 1.3 handshakes/s, server wired to distcache',
          rates.full13,
          'a plain Node tls.Server',
          rates.plain13,
          'handshakes/s',
        ),
        row(
          'server CPU per full TLS 1.3 handshake, wired to distcache',
          medianCpu('full13'),
          'a plain Node tls.Server',
          medianCpu('plain13'),
          'µs',
        ),
        row(
          'full TLS 1.3 handshakes/s, wired with sessionIds: false (ticket keys only)',
          rates.ticketsOnly13,
          'a plain Node tls.Server',
          rates.plain13,
          'handshakes/s',
        ),
      ],
      [
        `one tls.Server (ECDSA P-256 certificate) in a child process with an in-process engine; ${CONNECTIONS} handshakes in flight from this process, each on a new connection; median of ${ROUNDS} interleaved ${TRIAL_MS / 1000} s trials`,
        'TLS 1.2 clients send no ticket extension, so they resume by session id, looked up in the engine; TLS 1.3 clients resume with a ticket sealed by the key agreed through the cache (resumption still runs an ECDHE exchange: psk_dhe_ke)',
        'the wired server also looks up the random session id every TLS 1.3 client sends (Node asks for every ClientHello that carries one); the last row shows what that costs',
        'client and server share the 2 cores of this machine; the server CPU rows are the server process alone',
        `server counters at the end: ${JSON.stringify(stats)}`,
      ],
    );
  } finally {
    server.child.kill('SIGKILL');
  }
}

if (process.argv[2] === 'server') await serve({ key: process.argv[3]!, cert: process.argv[4]! });
else await main();
