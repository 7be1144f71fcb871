import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type https from 'node:https';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Engine, ErrorCode } from '../../src/index.js';
import { SessionCacheClient, shareTlsSessions, type TlsSessionSharing } from '../../src/tls/index.js';
import { rejectsWithCode, throwsWithCode } from '../helpers/assert-code.js';
import { TestCa } from '../helpers/certs.js';
import { silentLogger, sleep } from '../helpers/engine.js';
import { visit } from '../helpers/https-client.js';
import { closeHttps, listenHttps } from '../helpers/https-server.js';

const ca = new TestCa('tls-sessions');
const IPS = ['127.0.100.2', '127.0.100.3', '127.0.100.4'] as const;
const certFiles = ca.issue('servers', [...IPS]);
const caPem = readFileSync(ca.ca.cert);
const SERVE_LISTEN = 'IP:127.0.100.10:4300';
const CLI = ['--import', 'tsx', new URL('../../src/cli/main.ts', import.meta.url).pathname];

/** One of the fleet's servers: its address and its wiring to the cache (none for the control server). */
interface FleetServer {
  readonly ip: string;
  readonly port: number;
  readonly server: https.Server;
  sharing?: TlsSessionSharing;
}

async function startServer(ip: string, port: number): Promise<FleetServer> {
  return { ip, port, server: await listenHttps(ip, port, certFiles, ip) };
}

function visitServer(target: FleetServer, options: Omit<Parameters<typeof visit>[2], 'ca'>) {
  return visit(target.ip, target.port, { ca: caPem, ...options });
}

function sessionEngine(): Engine {
  return new Engine({
    logger: silentLogger,
    keyspaces: [{ name: 'ssl-sessions', maxBytes: 4 * 1024 * 1024, replicaReads: true }],
  });
}

/** Waits until `ms` after the start of the next rotation epoch of `intervalMs`. */
async function untilEpochStart(intervalMs: number, ms: number): Promise<void> {
  const now = Date.now();
  await sleep((Math.floor(now / intervalMs) + 1) * intervalMs - now + ms);
}

describe('distcache/tls with the engine in process', () => {
  let engine: Engine;
  let servers: FleetServer[];
  before(async () => {
    engine = sessionEngine();
    await engine.start();
    servers = await Promise.all(IPS.map((ip, i) => startServer(ip, 4431 + i)));
    // Two servers of the fleet; the third stays unwired, as the control.
    for (const server of servers.slice(0, 2))
      server.sharing = await shareTlsSessions(server.server, { engine, deadline: 1_000, logger: silentLogger });
  });
  after(async () => {
    await Promise.all(servers.map((server) => closeHttps(server.server)));
    await engine.stop();
  });

  it('a TLS 1.2 session stored by one server resumes on the other (session ids), and not on a server outside the fleet', async () => {
    const [a, b, outsider] = servers as [FleetServer, FleetServer, FleetServer];
    const first = await visitServer(a, { version: 'TLSv1.2', noTickets: true });
    assert.equal(first.reused, false);
    assert.equal(first.body, a.ip);
    const again = await visitServer(b, { version: 'TLSv1.2', noTickets: true, session: first.session });
    assert.equal(again.body, b.ip);
    assert.equal(again.reused, true, 'the other server resumed the session from the cache');
    assert.equal(b.sharing!.stats().hits, 1);
    const control = await visitServer(outsider, { version: 'TLSv1.2', noTickets: true, session: first.session });
    assert.equal(control.reused, false, 'a server not wired to the cache cannot resume it');
  });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`a ${version} ticket from one server resumes on the other (one agreed ticket key)`, async () => {
      const [a, b, outsider] = servers as [FleetServer, FleetServer, FleetServer];
      assert.deepEqual(a.server.getTicketKeys(), b.server.getTicketKeys());
      assert.notDeepEqual(a.server.getTicketKeys(), outsider.server.getTicketKeys());
      const first = await visitServer(a, { version });
      const again = await visitServer(b, { version, session: first.session });
      assert.equal(again.reused, true, `${version}: server b accepted server a's ticket`);
      const control = await visitServer(outsider, { version, session: first.session });
      assert.equal(control.reused, false);
    });
  }

  it('a TLS 1.3 handshake stores nothing: its sessions resume from tickets only', async () => {
    const [a] = servers as [FleetServer];
    const before = a.sharing!.stats().sessionsStored;
    await visitServer(a, { version: 'TLSv1.3' });
    assert.equal(a.sharing!.stats().sessionsStored, before);
  });

  it('bytes that are no session, under the id a client offers, cost a full handshake and no error', async () => {
    const [a, b] = servers as [FleetServer, FleetServer];
    const ids: Buffer[] = [];
    const record = (id: Buffer) => ids.push(id);
    a.server.on('newSession', record);
    const first = await visitServer(a, { version: 'TLSv1.2', noTickets: true });
    a.server.off('newSession', record);
    const key = ids[0]!.toString('hex');
    await engine.delete('ssl-sessions', key);
    await engine.put('ssl-sessions', { key, value: randomBytes(300), ttl: 60_000 });
    const again = await visitServer(b, { version: 'TLSv1.2', noTickets: true, session: first.session });
    assert.equal(again.body, b.ip);
    assert.equal(again.reused, false);
  });
});

describe('distcache/tls when the cache is down', () => {
  it('a stopped engine costs one full handshake, not an error, and sessions are shared again once it runs', async () => {
    const engine = sessionEngine();
    await engine.start();
    const [a, b] = await Promise.all([startServer(IPS[0], 4441), startServer(IPS[1], 4442)]);
    try {
      for (const server of [a, b])
        server.sharing = await shareTlsSessions(server.server, { engine, deadline: 150, logger: silentLogger });
      const first = await visitServer(a, { version: 'TLSv1.2', noTickets: true });
      assert.equal(
        (await visitServer(b, { version: 'TLSv1.2', noTickets: true, session: first.session })).reused,
        true,
      );
      await engine.stop();
      const during = await visitServer(b, { version: 'TLSv1.2', noTickets: true, session: first.session });
      assert.equal(during.body, b.ip, 'the client was served');
      assert.equal(during.reused, false, 'a full handshake');
      assert.ok(b.sharing!.stats().cacheFailures >= 1);
      await engine.start();
      const fresh = await visitServer(a, { version: 'TLSv1.2', noTickets: true });
      assert.equal(
        (await visitServer(b, { version: 'TLSv1.2', noTickets: true, session: fresh.session })).reused,
        true,
      );
    } finally {
      await Promise.all([closeHttps(a.server), closeHttps(b.server)]);
      await engine.stop();
    }
  });
});

describe('distcache/tls ticket key rotation', () => {
  it('rotates on the interval; both servers agree on each key, and a ticket of the previous key gets a full handshake', async () => {
    const interval = 2_000;
    const engine = sessionEngine();
    await engine.start();
    const [a, b] = await Promise.all([startServer(IPS[0], 4451), startServer(IPS[1], 4452)]);
    try {
      for (const server of [a, b])
        server.sharing = await shareTlsSessions(server.server, {
          engine,
          deadline: 1_000,
          ticketKeys: { rotationInterval: interval },
          logger: silentLogger,
        });
      await untilEpochStart(interval, 300);
      const epoch = Math.floor(Date.now() / interval);
      const firstKey = a.server.getTicketKeys();
      assert.deepEqual(b.server.getTicketKeys(), firstKey, 'both servers use the epoch key');
      assert.equal(a.sharing!.stats().ticketKeyEpoch, epoch);
      const before = await visitServer(a, { version: 'TLSv1.3' });
      assert.equal((await visitServer(b, { version: 'TLSv1.3', session: before.session })).reused, true);

      await untilEpochStart(interval, 300);
      const secondKey = a.server.getTicketKeys();
      assert.notDeepEqual(secondKey, firstKey, 'the key rotated');
      assert.deepEqual(b.server.getTicketKeys(), secondKey, 'both servers moved to the same new key');
      assert.equal(b.sharing!.stats().ticketKeyEpoch, epoch + 1);
      for (const server of [a, b]) {
        const stale = await visitServer(server, { version: 'TLSv1.3', session: before.session });
        assert.equal(stale.body, server.ip);
        assert.equal(stale.reused, false, 'Node keeps one ticket key: the previous epoch ticket is not accepted');
      }
      const after = await visitServer(b, { version: 'TLSv1.3' });
      assert.equal((await visitServer(a, { version: 'TLSv1.3', session: after.session })).reused, true);
    } finally {
      await Promise.all([closeHttps(a.server), closeHttps(b.server)]);
      await engine.stop();
    }
  });

  it('close() removes the listeners and stops the rotation, and closing the server does it too', async () => {
    const interval = 1_000;
    const engine = sessionEngine();
    await engine.start();
    const [a, b] = await Promise.all([startServer(IPS[0], 4461), startServer(IPS[1], 4462)]);
    try {
      const options = { engine, ticketKeys: { rotationInterval: interval }, logger: silentLogger };
      const closed = await shareTlsSessions(a.server, options);
      const serverClosed = await shareTlsSessions(b.server, options);
      closed.close();
      await closeHttps(b.server);
      assert.equal(a.server.listenerCount('resumeSession'), 0);
      assert.equal(a.server.listenerCount('newSession'), 0);
      assert.equal(b.server.listenerCount('resumeSession'), 0);
      const keys = [a.server.getTicketKeys(), b.server.getTicketKeys()];
      const epochs = [closed.stats().ticketKeyEpoch, serverClosed.stats().ticketKeyEpoch];
      await untilEpochStart(interval, 300);
      assert.deepEqual([a.server.getTicketKeys(), b.server.getTicketKeys()], keys, 'no rotation after close');
      assert.deepEqual([closed.stats().ticketKeyEpoch, serverClosed.stats().ticketKeyEpoch], epochs);
    } finally {
      await Promise.all([closeHttps(a.server), closeHttps(b.server)]);
      await engine.stop();
    }
  });
});

describe('distcache/tls options', () => {
  it('refuses bad options with ERR_INVALID_CONFIG and a server it cannot wire with ERR_INVALID_ARGUMENT', async () => {
    const engine = sessionEngine();
    const remote = new SessionCacheClient({ servers: [SERVE_LISTEN] });
    const a = await startServer(IPS[2], 4471);
    try {
      for (const [options, message] of [
        [{}, /exactly one of engine/],
        [{ engine, remote }, /exactly one of engine/],
        [{ remote, keyspace: 'x' }, /keyspace goes with engine/],
        [{ engine, deadline: 0 }, /deadline/],
        [{ engine, ticketKeys: { rotationInterval: 10 } }, /rotationInterval/],
        [{ engine, ticketKeys: { name: 'a b' } }, /name/],
        [{ engine: {} }, /engine: must be a distcache Engine/],
        [{ engine, colour: 'red' }, /colour/],
      ] as const) {
        const error = await rejectsWithCode(shareTlsSessions(a.server, options as never), ErrorCode.INVALID_CONFIG);
        assert.match(error.message, message);
      }
      const notTls = await rejectsWithCode(
        shareTlsSessions(net.createServer() as never, { engine, ticketKeys: false }),
        ErrorCode.INVALID_ARGUMENT,
      );
      assert.match(notTls.message, /tls.Server/);
      const sharing = await shareTlsSessions(a.server, { remote, ticketKeys: false });
      const twice = await rejectsWithCode(
        shareTlsSessions(a.server, { remote, ticketKeys: false }),
        ErrorCode.INVALID_ARGUMENT,
      );
      assert.match(twice.message, /wired already/);
      sharing.close();
      a.server.on('resumeSession', (_id: Buffer, done: (error: null, session: null) => void) => done(null, null));
      const ownListener = await rejectsWithCode(
        shareTlsSessions(a.server, { remote, ticketKeys: false }),
        ErrorCode.INVALID_ARGUMENT,
      );
      assert.match(ownListener.message, /resumeSession listener/);
      throwsWithCode(() => new SessionCacheClient({ servers: [] }), ErrorCode.INVALID_CONFIG);
    } finally {
      remote.close();
      await closeHttps(a.server);
    }
  });
});

describe('distcache/tls through a `distcache serve` listener (wire protocol)', () => {
  let serve: ChildProcess | undefined;
  let remote: SessionCacheClient;
  let servers: FleetServer[];

  async function startServe(): Promise<void> {
    const child = spawn(process.execPath, [...CLI, 'serve', '--listen', SERVE_LISTEN], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    serve = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve not ready: ${output}`)), 20_000);
      const onData = (chunk: Buffer) => {
        output += chunk;
        if (!/listening on/.test(output)) return;
        clearTimeout(timer);
        resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`serve exited ${code}: ${output}`))));
    });
  }

  async function killServe(): Promise<void> {
    const child = serve;
    serve = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  before(async () => {
    await startServe();
    // The client's own timeout is long: the handshake deadline (150 ms) alone must keep handshakes moving.
    remote = new SessionCacheClient({ servers: [SERVE_LISTEN], timeout: 10_000, reconnectDelay: 200 });
    servers = await Promise.all(IPS.slice(0, 2).map((ip, i) => startServer(ip, 4481 + i)));
    for (const server of servers)
      server.sharing = await shareTlsSessions(server.server, { remote, deadline: 150, logger: silentLogger });
  });
  after(async () => {
    await Promise.all(servers.map((server) => closeHttps(server.server)));
    remote.close();
    await killServe();
  });

  it('a TLS 1.2 session and a TLS 1.3 ticket from one server resume on the other', async () => {
    const [a, b] = servers as [FleetServer, FleetServer];
    assert.deepEqual(a.server.getTicketKeys(), b.server.getTicketKeys());
    for (const [version, noTickets] of [
      ['TLSv1.2', true],
      ['TLSv1.3', false],
    ] as const) {
      const first = await visitServer(a, { version, noTickets });
      const again = await visitServer(b, { version, noTickets, session: first.session });
      assert.equal(again.reused, true, `${version} resumed on the other server`);
    }
  });

  it('a frozen listener costs a full handshake within the deadline, and a killed one too; then sharing resumes', async () => {
    const [a, b] = servers as [FleetServer, FleetServer];
    const first = await visitServer(a, { version: 'TLSv1.2', noTickets: true });
    serve!.kill('SIGSTOP');
    try {
      const frozen = await visitServer(b, { version: 'TLSv1.2', noTickets: true, session: first.session });
      assert.equal(frozen.body, b.ip);
      assert.equal(frozen.reused, false);
      assert.ok(frozen.ms < 1_500, `the handshake waited ${frozen.ms} ms for a frozen cache (deadline 150 ms)`);
    } finally {
      serve!.kill('SIGCONT');
    }
    assert.equal(
      (await visitServer(b, { version: 'TLSv1.2', noTickets: true, session: first.session })).reused,
      true,
      'the thawed listener still holds the session',
    );

    await killServe();
    const down = await visitServer(b, { version: 'TLSv1.2', noTickets: true, session: first.session });
    assert.equal(down.body, b.ip);
    assert.equal(down.reused, false);
    assert.ok(down.ms < 1_500, `the handshake took ${down.ms} ms with the cache down`);

    await startServe();
    await sleep(300); // the client's reconnectDelay
    const fresh = await visitServer(a, { version: 'TLSv1.2', noTickets: true });
    assert.equal((await visitServer(b, { version: 'TLSv1.2', noTickets: true, session: fresh.session })).reused, true);
  });
});
