import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { Engine } from '../../src/index.js';
import { parseSessionAddress, type SessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { encodeAddRequest, encodeMessage, Operation, Status } from '../../src/protocol/codec.js';
import { SessionProxy } from '../../src/protocol/proxy.js';
import { SessionSnoop } from '../../src/protocol/snoop.js';
import { TestCa } from '../helpers/certs.js';
import { CliProcess } from '../helpers/cli.js';
import { silentLogger, sleep } from '../helpers/engine.js';

/** The flood of issue 14: 20,000 pipelined GETs of one 32 KB session, from a client that never reads. */
const FLOOD_REQUESTS = 20_000;
const SESSION_BYTES = 32_000;
/** How much a process may grow while one client floods it. */
const GROWTH_LIMIT_MIB = 64;
const SESSION_ID = Buffer.from('flooded-session');
const GET_FRAME = encodeMessage({ isResponse: false, requestUid: 1, operation: Operation.GET, data: SESSION_ID });
const ADD_FRAME = encodeMessage({
  isResponse: false,
  requestUid: 1,
  operation: Operation.ADD,
  data: encodeAddRequest(600_000, Buffer.from('big'), Buffer.alloc(SESSION_BYTES, 1)),
});

const dir = mkdtempSync(path.join(tmpdir(), 'distcache-bounds-'));
const processes: CliProcess[] = [];
/** Closes the deaf servers, their connections first (a server closes only once they have). */
const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  await Promise.all(processes.map((child) => child.stop()));
  await Promise.all(closers.map((close) => close()));
  rmSync(dir, { recursive: true, force: true });
});

/** `distcache serve` on `listen`, with the session to flood stored, and a persistent client for other requests. */
async function serve(listen: string[], sessionCache: object = {}): Promise<CliProcess> {
  const config = path.join(dir, `serve-${processes.length}.json`);
  writeFileSync(config, JSON.stringify({ sessionCache: { listen, ...sessionCache } }));
  const child = await CliProcess.start(['serve', '--config', config]);
  processes.push(child);
  return child;
}

async function start(args: string[]): Promise<CliProcess> {
  const child = await CliProcess.start(args);
  processes.push(child);
  return child;
}

/** A server that accepts connections and never reads from them. */
async function deafServer(host: string, port: number): Promise<{ connections: () => number }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  closers.push(() => {
    sockets.forEach((socket) => socket.destroy());
    return new Promise((resolve) => server.close(resolve));
  });
  return { connections: () => connections };
}

async function storeSession(address: SessionAddress, options: ConstructorParameters<typeof DcClient>[1] = {}) {
  const client = new DcClient(address, options);
  const added = await client.request(Operation.ADD, encodeAddRequest(600_000, SESSION_ID, Buffer.alloc(SESSION_BYTES)));
  assert.ok(added.data[0] === Status.OK || added.data[0] === Status.MATCHING_SESSION);
  return client;
}

/** Connects a client that sends `frames` at once and reads nothing. */
async function nonReader(connect: () => Duplex, frame: Buffer, count: number): Promise<Duplex> {
  const socket = connect();
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', resolve));
  socket.pause();
  for (let i = 0; i < count; i++) socket.write(frame);
  return socket;
}

/**
 * Floods through `connect` for 3 s while `other` keeps being answered, and
 * asserts that no watched process grew by GROWTH_LIMIT_MIB, then that they
 * are back under it once the flooding client is gone.
 */
async function assertBounded(
  watched: CliProcess[],
  connect: () => Duplex,
  other: () => Promise<unknown>,
  frame = GET_FRAME,
): Promise<void> {
  for (let i = 0; i < 50; i++) await other(); // warm: the baseline is taken after the first answers
  await sleep(300);
  const baseline = watched.map((child) => child.rssMiB());
  const peak = [...baseline];
  const bad = await nonReader(connect, frame, FLOOD_REQUESTS);
  for (const until = Date.now() + 3_000; Date.now() < until;) {
    const started = Date.now();
    await other();
    assert.ok(Date.now() - started < 2_000, 'another client waited more than 2 s for an answer');
    watched.forEach((child, i) => (peak[i] = Math.max(peak[i]!, child.rssMiB())));
    await sleep(100);
  }
  watched.forEach((_, i) =>
    assert.ok(
      peak[i]! - baseline[i]! < GROWTH_LIMIT_MIB,
      `process ${i} grew from ${baseline[i]!.toFixed(0)} MiB to ${peak[i]!.toFixed(0)} MiB`,
    ),
  );
  bad.destroy();
  await sleep(1_000);
  await other();
  watched.forEach((child, i) =>
    assert.ok(child.rssMiB() - baseline[i]! < GROWTH_LIMIT_MIB, `process ${i} kept its memory after the client left`),
  );
}

describe('a client that sends requests and never reads the answers', () => {
  const ca = new TestCa('bounds');
  after(() => rmSync(ca.dir, { recursive: true, force: true }));
  let plain: CliProcess;
  let plainClient: DcClient;
  const unixPath = path.join(dir, 'serve.sock');
  before(async () => {
    plain = await serve(['IP:127.0.80.2:4801', `UNIX:${unixPath}`], { idleTimeout: 2_000 });
    plainClient = await storeSession(parseSessionAddress('IP:127.0.80.2:4801'));
  });
  after(() => plainClient.close());
  const have = (client: DcClient) => () => client.request(Operation.HAVE, SESSION_ID);

  it('holds serve to a bounded memory over TCP, and serve keeps answering other clients', async () => {
    await assertBounded([plain], () => net.connect({ host: '127.0.80.2', port: 4801 }), have(plainClient));
  });

  it('holds serve to a bounded memory over a UNIX socket', async () => {
    await assertBounded([plain], () => net.connect({ path: unixPath }), have(plainClient));
  });

  it('holds serve to a bounded memory over TLS', async () => {
    const files = ca.issue('serve', ['127.0.80.3']);
    const tlsServe = await serve(['IP:127.0.80.3:4802'], {
      tls: { key: readFileSync(files.key, 'utf8'), cert: readFileSync(files.cert, 'utf8') },
    });
    const options = { ca: readFileSync(ca.ca.cert), servername: undefined, checkServerIdentity: () => undefined };
    const client = await storeSession(parseSessionAddress('IP:127.0.80.3:4802'), { tls: options });
    try {
      await assertBounded([tlsServe], () => tls.connect({ host: '127.0.80.3', port: 4802, ...options }), have(client));
    } finally {
      client.close();
    }
  });

  it('closes a connection whose answers stay unread past idleTimeout, before answering the whole flood', async () => {
    const bad = await nonReader(() => net.connect({ host: '127.0.80.2', port: 4801 }), GET_FRAME, FLOOD_REQUESTS);
    await sleep(3_000);
    const received = await readUntilClosed(bad);
    assert.ok(received < FLOOD_REQUESTS * SESSION_BYTES, `received ${received} bytes`);
  });

  it('holds proxy (and serve behind it) to a bounded memory', async () => {
    const proxy = await start(['proxy', '--listen', 'IP:127.0.80.5:4804', '--server', 'IP:127.0.80.2:4801']);
    const client = new DcClient(parseSessionAddress('IP:127.0.80.5:4804'));
    try {
      await assertBounded([proxy, plain], () => net.connect({ host: '127.0.80.5', port: 4804 }), have(client));
    } finally {
      client.close();
    }
  });

  it('holds snoop (and serve behind it) to a bounded memory', async () => {
    const snoop = await start(['snoop', '--listen', 'IP:127.0.80.8:4807', '--server', 'IP:127.0.80.2:4801']);
    const client = new DcClient(parseSessionAddress('IP:127.0.80.8:4807'));
    try {
      await assertBounded([snoop, plain], () => net.connect({ host: '127.0.80.8', port: 4807 }), have(client));
    } finally {
      client.close();
    }
  });
});

describe('a server that never reads what proxy and snoop forward', () => {
  /** Floods `command` (listening on `host:port`, forwarding to a deaf server) with 32 KB ADDs; asserts its growth. */
  async function assertForwardingBounded(command: 'proxy' | 'snoop', host: string, port: number, deafPort: number) {
    const deaf = await deafServer('127.0.80.6', deafPort);
    const child = await start([command, '--listen', `IP:${host}:${port}`, '--server', `IP:127.0.80.6:${deafPort}`]);
    await sleep(200);
    const baseline = child.rssMiB();
    const bad = await nonReader(() => net.connect({ host, port }), ADD_FRAME, FLOOD_REQUESTS);
    let peak = baseline;
    for (let i = 0; i < 20; i++, await sleep(150)) peak = Math.max(peak, child.rssMiB());
    bad.destroy();
    assert.ok(
      peak - baseline < GROWTH_LIMIT_MIB,
      `${command} grew from ${baseline.toFixed(0)} to ${peak.toFixed(0)} MiB`,
    );
    assert.equal(deaf.connections(), 1, 'one server connection, kept');
  }

  it('holds proxy to a bounded memory', () => assertForwardingBounded('proxy', '127.0.80.7', 4806, 4805));
  it('holds snoop to a bounded memory', () => assertForwardingBounded('snoop', '127.0.80.9', 4809, 4808));
});

/** Resumes a client that has not read, and resolves the bytes it then receives before the server closes it (within 5 s). */
async function readUntilClosed(socket: Duplex): Promise<number> {
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.byteLength));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.resume();
  await Promise.race([closed, sleep(5_000).then(() => assert.fail('the connection was not closed'))]);
  return received;
}

describe('a connection that stays over its output bound past the deadline', () => {
  it('is closed by proxy', async () => {
    const engine = new Engine({
      logger: silentLogger,
      keyspaces: [],
      sessionCache: { listen: ['IP:127.0.80.11:4812'] },
    });
    await engine.start();
    const proxy = new SessionProxy(
      parseSessionAddress('IP:127.0.80.12:4813'),
      parseSessionAddress('IP:127.0.80.11:4812'),
      { retryMs: 100, stalledOutputTimeout: 500 },
      silentLogger,
    );
    await proxy.start();
    try {
      (await storeSession(parseSessionAddress('IP:127.0.80.11:4812'))).close();
      const bad = await nonReader(() => net.connect({ host: '127.0.80.12', port: 4813 }), GET_FRAME, FLOOD_REQUESTS);
      await sleep(1_500);
      assert.ok((await readUntilClosed(bad)) < FLOOD_REQUESTS * SESSION_BYTES);
    } finally {
      await proxy.stop();
      await engine.stop();
    }
  });

  it('is closed by snoop, with its server connection', async () => {
    await deafServer('127.0.80.6', 4814);
    const snoop = new SessionSnoop(
      parseSessionAddress('IP:127.0.80.13:4815'),
      parseSessionAddress('IP:127.0.80.6:4814'),
      () => undefined,
      500,
    );
    await snoop.start();
    try {
      const bad = await nonReader(() => net.connect({ host: '127.0.80.13', port: 4815 }), ADD_FRAME, 2_000);
      const closed = new Promise((resolve) => bad.once('close', resolve));
      await Promise.race([closed, sleep(5_000).then(() => assert.fail('the connection was not closed'))]);
    } finally {
      await snoop.stop();
    }
  });
});
