import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Engine, ErrorCode } from '../../src/index.js';
import { SessionCacheClient } from '../../src/tls/index.js';
import { rejectsWithCode, throwsWithCode } from '../helpers/assert-code.js';
import { silentLogger, sleep } from '../helpers/engine.js';

const LISTEN = { host: '127.0.100.20', port: 4310 };
const SILENT = { host: '127.0.100.21', port: 4311 };
const NOBODY = { host: '127.0.100.22', port: 4312 };
const address = ({ host, port }: { host: string; port: number }) => `IP:${host}:${port}`;

/** A server that accepts connections and reads requests but never answers, like a frozen cache. */
async function silentServer(): Promise<{ close(): Promise<void>; connections: () => number }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(SILENT.port, SILENT.host, resolve));
  return {
    connections: () => accepted,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function sessionListener(): Engine {
  return new Engine({ logger: silentLogger, keyspaces: [], sessionCache: { listen: [address(LISTEN)] } });
}

describe('SessionCacheClient against a distcache listener', () => {
  let engine: Engine;
  before(async () => {
    engine = sessionListener();
    await engine.start();
  });
  after(async () => {
    await engine.stop();
  });

  it('adds, gets, has and removes sessions, and never overwrites one', async () => {
    const client = new SessionCacheClient({ servers: [address(LISTEN)], timeout: 2_000 });
    try {
      const id = randomBytes(32);
      const session = randomBytes(1_500);
      assert.equal(await client.get(id), undefined);
      assert.equal(await client.add(id, session, 60_000), true);
      assert.equal(await client.add(id, randomBytes(100), 60_000), false, 'a taken id is refused');
      assert.deepEqual(Buffer.from((await client.get(id))!), session);
      assert.equal(await client.have(id), true);
      assert.equal(await client.remove(id), true);
      assert.equal(await client.have(id), false);
      assert.equal(await client.remove(id), false);
      const large = randomBytes(20_000);
      assert.equal(await client.add(randomBytes(64), large, 60_000), true, 'a session spanning several frames');
    } finally {
      client.close();
    }
  });

  it('refuses ids, sessions and ttls the protocol cannot carry, before sending them', async () => {
    const client = new SessionCacheClient({ servers: [address(LISTEN)] });
    try {
      await rejectsWithCode(client.get(new Uint8Array(0)), ErrorCode.INVALID_ARGUMENT);
      await rejectsWithCode(client.have(randomBytes(65)), ErrorCode.INVALID_ARGUMENT);
      await rejectsWithCode(client.add(randomBytes(8), Uint8Array.of(7), 1_000), ErrorCode.INVALID_ARGUMENT);
      await rejectsWithCode(client.add(randomBytes(8), randomBytes(32_768), 1_000), ErrorCode.INVALID_ARGUMENT);
      await rejectsWithCode(client.add(randomBytes(8), randomBytes(8), 604_800_001), ErrorCode.INVALID_ARGUMENT);
      throwsWithCode(() => new SessionCacheClient({ servers: ['TCP:1'] }), ErrorCode.INVALID_CONFIG);
      throwsWithCode(
        () => new SessionCacheClient({ servers: [address(LISTEN)], timeout: 0 }),
        ErrorCode.INVALID_CONFIG,
      );
    } finally {
      client.close();
    }
  });

  it('rejects with ERR_ABORTED when the signal fires, and ERR_PEER_UNAVAILABLE once closed', async () => {
    const client = new SessionCacheClient({ servers: [address(LISTEN)] });
    await rejectsWithCode(client.get(randomBytes(8), { signal: AbortSignal.abort() }), ErrorCode.ABORTED);
    client.close();
    await rejectsWithCode(client.get(randomBytes(8)), ErrorCode.PEER_UNAVAILABLE);
  });

  it('moves to the next server when the first refuses connections', async () => {
    const client = new SessionCacheClient({ servers: [address(NOBODY), address(LISTEN)], timeout: 1_000 });
    try {
      await rejectsWithCode(client.have(randomBytes(8)), ErrorCode.PEER_UNAVAILABLE);
      assert.equal(await client.have(randomBytes(8)), false, 'answered by the second server');
    } finally {
      client.close();
    }
  });

  it('a server that never answers costs each request its timeout, then is left for the next server', async () => {
    const silent = await silentServer();
    const client = new SessionCacheClient({ servers: [address(SILENT), address(LISTEN)], timeout: 100 });
    try {
      const started = performance.now();
      await rejectsWithCode(client.get(randomBytes(8)), ErrorCode.TIMEOUT);
      const waited = performance.now() - started;
      assert.ok(waited >= 95 && waited < 1_000, `waited ${waited} ms for a 100 ms timeout`);
      // Requests keep timing out until the connection has owed answers for 10 timeouts (at least 1 s).
      let answered = false;
      for (let attempt = 0; attempt < 40 && !answered; attempt++) {
        answered = await client.have(randomBytes(8)).then(
          () => true,
          () => false,
        );
        if (!answered) await sleep(100);
      }
      assert.ok(answered, 'the client gave up on the silent server and asked the next one');
    } finally {
      client.close();
      await silent.close();
    }
  });

  it('refuses requests beyond maxPending at once', async () => {
    const silent = await silentServer();
    const client = new SessionCacheClient({ servers: [address(SILENT)], timeout: 5_000, maxPending: 3 });
    try {
      const waiting = Array.from({ length: 3 }, () => client.get(randomBytes(8)).catch((error: unknown) => error));
      const started = performance.now();
      await rejectsWithCode(client.get(randomBytes(8)), ErrorCode.PEER_UNAVAILABLE);
      assert.ok(performance.now() - started < 100);
      client.close();
      for (const error of await Promise.all(waiting))
        assert.equal((error as { code?: string }).code, ErrorCode.PEER_UNAVAILABLE);
    } finally {
      client.close();
      await silent.close();
    }
  });
});

describe('SessionCacheClient when no server is up', () => {
  it('fails at once while it waits to reconnect, then reaches a server that came up', async () => {
    const client = new SessionCacheClient({ servers: [address(LISTEN)], reconnectDelay: 500, timeout: 1_000 });
    const engine = sessionListener();
    try {
      await rejectsWithCode(client.have(randomBytes(8)), ErrorCode.PEER_UNAVAILABLE);
      const started = performance.now();
      const refused = await rejectsWithCode(client.have(randomBytes(8)), ErrorCode.PEER_UNAVAILABLE);
      assert.ok(performance.now() - started < 50, 'no connection attempt while waiting');
      assert.match(refused.message, /next attempt in \d+ ms/);
      await engine.start();
      await sleep(600);
      assert.equal(await client.have(randomBytes(8)), false);
    } finally {
      client.close();
      await engine.stop();
    }
  });
});
