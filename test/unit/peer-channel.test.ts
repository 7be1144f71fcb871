import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { PEER_PSK_IDENTITY, derivePeerPsk, peerSecurity, type PeerSecurity } from '../../src/cluster/peer-channel.js';
import { PeerClient } from '../../src/cluster/peer-client.js';
import { MessageType, PeerMessageDecoder, encodePeerMessage } from '../../src/cluster/peer-codec.js';
import { ClientHandshake, PEER_PROTOCOL_VERSIONS } from '../../src/cluster/peer-handshake.js';
import { PeerServer, type PeerRequestHandler } from '../../src/cluster/peer-server.js';
import { Engine, ErrorCode, type Logger } from '../../src/index.js';
import { rejectsWithCode, throwsWithCode } from '../helpers/assert-code.js';
import { TestCa } from '../helpers/certs.js';
import { silentLogger } from '../helpers/engine.js';
import { answeringGets } from '../helpers/peer-handler.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

const KEY = 'the-cluster-key-of-this-test-0123';
const WRONG_KEY = 'another-cluster-key-0123456789ab';
const VALUE = new Uint8Array(1024).fill(9);

const handler = answeringGets(() => ({ bytes: VALUE, expiresAt: 0 }));

/** A logger that keeps what it is told, for asserting what an operator would read. */
function recordingLogger() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const keep = (fields: object, message?: string) =>
    lines.push({ message: message ?? '', fields: fields as Record<string, unknown> });
  const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep };
  return { logger, lines };
}

const servers: PeerServer[] = [];
after(async () => Promise.all(servers.map((server) => server.close(0))));

async function startServer(
  address: string,
  security: PeerSecurity,
  options: ConstructorParameters<typeof PeerServer>[3] = {},
  logger: Logger = silentLogger,
  requests: PeerRequestHandler = handler,
) {
  const [host, port] = address.split(':') as [string, string];
  const server = new PeerServer(requests, security, logger, options);
  await server.listen(host, Number(port));
  servers.push(server);
  return server;
}

function get(client: PeerClient, key = 'k') {
  return client.request({ type: MessageType.GET, keyspace: 'ks', key }, 2_000);
}

const PRE_SHARED_KEY = 41;
const PSK_KEY_EXCHANGE_MODES = 45;
const KEY_SHARE = 51;

/** The extensions (type → hex) of the ClientHello or ServerHello at the start of a TLS byte stream. */
function helloExtensions(stream: Buffer, hello: 'client' | 'server'): Map<number, string> {
  let at = 5 + 4 + 2 + 32; // record header, handshake header, legacy version, random
  at += 1 + stream[at]!; // legacy session id
  at += hello === 'client' ? 2 + stream.readUInt16BE(at) : 2; // cipher suites, or the chosen one
  at += hello === 'client' ? 1 + stream[at]! : 1; // compression methods
  const end = at + 2 + stream.readUInt16BE(at);
  const extensions = new Map<number, string>();
  for (at += 2; at < end; at += 4 + stream.readUInt16BE(at + 2)) {
    extensions.set(
      stream.readUInt16BE(at),
      stream.subarray(at + 4, at + 4 + stream.readUInt16BE(at + 2)).toString('hex'),
    );
  }
  return extensions;
}

/** Resolves when `socket` closes; rejects if it is still open after `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    socket.once('close', () => (clearTimeout(timer), resolve()));
  });
}

describe('peer port with a cluster key: TLS 1.3 with a pre-shared key', () => {
  it('serves a client holding the key over TLS 1.3 with a PSK suite and no certificate', async () => {
    await startServer('127.0.70.2:3320', peerSecurity(KEY, undefined));
    const socket = tls.connect({
      host: '127.0.70.2',
      port: 3320,
      minVersion: 'TLSv1.3',
      pskCallback: () => ({ psk: derivePeerPsk(KEY), identity: PEER_PSK_IDENTITY }),
    });
    try {
      await once(socket, 'secureConnect');
      assert.equal(socket.getProtocol(), 'TLSv1.3');
      assert.match(socket.getCipher().name, /^TLS_(AES_128_GCM|CHACHA20_POLY1305)_SHA256$/);
      assert.equal(socket.getPeerX509Certificate(), undefined, 'the server shows no certificate');
      socket.write(encodePeerMessage(new ClientHandshake(PEER_PROTOCOL_VERSIONS, '127.0.70.2:3320').hello()));
      socket.write(encodePeerMessage({ type: MessageType.GET, requestId: 7, keyspace: 'ks', key: 'k' }));
      const decoder = new PeerMessageDecoder();
      const replies = [];
      for await (const chunk of socket) {
        replies.push(...decoder.push(chunk as Buffer));
        if (replies.length === 2) break;
      }
      assert.deepEqual(
        replies.map((reply) => reply.type),
        [MessageType.WELCOME, MessageType.VALUE],
      );
    } finally {
      socket.destroy();
    }
  });

  it('refuses a wrong key, no key, and plaintext, and says which in its log', async () => {
    const { logger, lines } = recordingLogger();
    await startServer('127.0.70.3:3320', peerSecurity(KEY, undefined), {}, logger);
    const wrong = await rejectsWithCode(
      new PeerClient('127.0.70.3:3320', peerSecurity(WRONG_KEY, undefined)).verify(),
      ErrorCode.PEER_UNAVAILABLE,
    );
    assert.match(wrong.message, /TLS handshake failed.*another cluster key/);
    await rejectsWithCode(new PeerClient('127.0.70.3:3320', { kind: 'none' }).verify(), ErrorCode.PEER_UNAVAILABLE);
    const refusals = lines
      .filter((line) => line.message === 'peer TLS handshake refused')
      .map((line) => line.fields.why);
    assert.deepEqual(refusals, ['the client holds another cluster key', 'the client does not speak TLS']);
    const client = new PeerClient('127.0.70.3:3320', peerSecurity(KEY, undefined));
    assert.equal((await get(client)).type, MessageType.VALUE, 'the right key is served');
    client.close();
  });

  it('has nothing to fall back to: an ordinary TLS client, or TLS 1.2 with PSK suites, cannot complete', async () => {
    await startServer('127.0.70.4:3320', peerSecurity(KEY, undefined));
    const attempt = (options: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const socket = tls.connect({ host: '127.0.70.4', port: 3320, rejectUnauthorized: false, ...options }, () =>
          resolve('connected'),
        );
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
    assert.notEqual(await attempt({}), 'connected', 'a certificate handshake');
    assert.notEqual(await attempt({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), 'connected', 'TLS 1.2');
    const tls12Psk = await attempt({
      maxVersion: 'TLSv1.2',
      ciphers: 'PSK-AES128-GCM-SHA256',
      pskCallback: () => ({ psk: derivePeerPsk(KEY), identity: PEER_PSK_IDENTITY }),
    });
    assert.notEqual(tls12Psk, 'connected', 'TLS 1.2 with a PSK suite, even holding the key');
  });

  it('a client with the key refuses a server that authenticates with a certificate instead', async () => {
    const ca = new TestCa('impostor');
    const files = ca.issue('impostor', ['127.0.70.5']);
    const impostor = tls.createServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) }, (socket) =>
      socket.resume(),
    );
    impostor.listen(3320, '127.0.70.5');
    await once(impostor, 'listening');
    try {
      await rejectsWithCode(
        new PeerClient('127.0.70.5:3320', peerSecurity(KEY, undefined)).verify(),
        ErrorCode.PEER_UNAVAILABLE,
      );
    } finally {
      impostor.close();
    }
  });

  it('refuses a connection a network attacker redirected from another node, though it holds the key', async () => {
    const { logger, lines } = recordingLogger();
    await startServer('127.0.70.9:3320', peerSecurity(KEY, undefined), {}, logger);
    // The client dials 127.0.70.10, and the network hands its connection to 127.0.70.9.
    const redirect = await TcpRelay.start({ host: '127.0.70.10', port: 3320 }, { host: '127.0.70.9', port: 3320 });
    try {
      const error = await rejectsWithCode(
        new PeerClient('127.0.70.10:3320', peerSecurity(KEY, undefined)).verify(),
        ErrorCode.PEER_UNAVAILABLE,
      );
      assert.match(error.message, /meant for "127\.0\.70\.10:3320", this node is 127\.0\.70\.9:3320/);
      assert.ok(lines.some((line) => line.message === 'peer connection refused'));
    } finally {
      await redirect.close();
    }
  });

  it('mixes an (EC)DHE exchange into the PSK, so a recorded connection stays secret if the key leaks later', async () => {
    await startServer('127.0.70.11:3320', peerSecurity(KEY, undefined), { selfId: '127.0.70.12:3320' });
    const relay = await TcpRelay.start({ host: '127.0.70.12', port: 3320 }, { host: '127.0.70.11', port: 3320 });
    const client = new PeerClient('127.0.70.12:3320', peerSecurity(KEY, undefined));
    try {
      await client.verify();
      const [connection] = relay.connections;
      const clientHello = helloExtensions(Buffer.concat(connection!.toServer), 'client');
      const serverHello = helloExtensions(Buffer.concat(connection!.toClient), 'server');
      assert.equal(clientHello.get(PSK_KEY_EXCHANGE_MODES), '0101', 'the client offers psk_dhe_ke only');
      assert.ok(serverHello.has(PRE_SHARED_KEY), 'the server took the PSK');
      assert.ok(serverHello.has(KEY_SHARE), 'and answered with a key share');
    } finally {
      client.close();
      await relay.close();
    }
  });

  it('derives the PSK with HKDF for this purpose: not the key itself, nor the discovery port key', () => {
    const psk = derivePeerPsk(KEY);
    assert.equal(psk.byteLength, 32);
    assert.deepEqual(derivePeerPsk(KEY), psk);
    assert.notDeepEqual(derivePeerPsk(WRONG_KEY), psk);
    assert.notDeepEqual(psk, createHash('sha256').update(KEY).digest(), 'libp2p pnet takes SHA-256 of the key');
    assert.ok(!psk.includes(Buffer.from(KEY)));
  });

  it('refuses tls without ca next to a cluster key, which would let any client in', () => {
    const ca = new TestCa('config');
    const files = ca.issue('node', ['127.0.0.1']);
    const tlsOptions = { key: readFileSync(files.key), cert: readFileSync(files.cert) };
    throwsWithCode(() => peerSecurity(KEY, tlsOptions), ErrorCode.INVALID_CONFIG);
    throwsWithCode(
      () => new Engine({ clusterKey: KEY, tls: tlsOptions, keyspaces: [], logger: silentLogger }),
      ErrorCode.INVALID_CONFIG,
    );
    assert.equal(peerSecurity(KEY, { ...tlsOptions, ca: readFileSync(ca.ca.cert) }).kind, 'certificates');
  });
});

describe('peer port backpressure', () => {
  it('stops reading from a peer that does not read its replies, closes it past the stall timeout, and serves others meanwhile', async () => {
    const limits = { maxUnsentBytes: 256 * 1024, stallTimeoutMs: 1_000 };
    const big = new Uint8Array(64 * 1024).fill(1);
    let served = 0;
    const { logger, lines } = recordingLogger();
    await startServer('127.0.70.6:3320', peerSecurity(KEY, undefined), { outputLimits: limits }, logger, {
      ...handler,
      get: () => (served++, { bytes: big, expiresAt: 0 }),
    });
    const hog = tls.connect({
      host: '127.0.70.6',
      port: 3320,
      pskCallback: () => ({ psk: derivePeerPsk(KEY), identity: PEER_PSK_IDENTITY }),
    });
    hog.on('error', () => undefined);
    await once(hog, 'secureConnect');
    hog.write(encodePeerMessage(new ClientHandshake(PEER_PROTOCOL_VERSIONS, '127.0.70.6:3320').hello()));
    hog.pause(); // reads no reply
    const requests = Array.from({ length: 20_000 }, (_, i) =>
      encodePeerMessage({ type: MessageType.GET, requestId: i + 1, keyspace: 'ks', key: 'k' }),
    );
    hog.write(Buffer.concat(requests));
    const client = new PeerClient('127.0.70.6:3320', peerSecurity(KEY, undefined));
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal((await get(client)).type, MessageType.VALUE, 'another peer is served meanwhile');
      assert.ok(served < 1_000, `${served} of 20,000 requests answered to a peer that reads nothing`);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.deepEqual(
        lines.filter((line) => line.message === 'peer connection closed').map((line) => line.fields.why),
        ['it left its replies unread past the stall timeout'],
      );
      hog.resume(); // it finds the connection closed once it reads
      await closedWithin(hog, 3_000);
    } finally {
      hog.destroy();
      client.close();
    }
  });

  it('a client refuses new requests while its peer reads none, then closes that connection', async () => {
    const limits = { maxUnsentBytes: 256 * 1024, stallTimeoutMs: 1_500 };
    const deaf = net.createServer((socket) => {
      socket.once('data', () => {
        // Accept the handshake, then never read again.
        socket.write(
          encodePeerMessage({ type: MessageType.WELCOME, requestId: 0, version: PEER_PROTOCOL_VERSIONS.max }),
        );
        socket.pause();
      });
      socket.on('error', () => undefined);
    });
    deaf.listen(3320, '127.0.70.7');
    await once(deaf, 'listening');
    const client = new PeerClient('127.0.70.7:3320', { kind: 'none' }, { outputLimits: limits });
    try {
      await client.verify();
      const value = new Uint8Array(1024 * 1024);
      const puts: Promise<unknown>[] = [];
      let refused: unknown;
      for (let i = 0; i < 200 && refused === undefined; i++) {
        const put = client.request(
          { type: MessageType.PUT, keyspace: 'ks', key: `k${i}`, expiresAt: 0, ifAbsent: false, value },
          10_000,
        );
        puts.push(put.catch(() => undefined));
        refused = await Promise.race([
          put.then(
            () => undefined,
            (error: unknown) => error,
          ),
          new Promise((resolve) => setImmediate(resolve, undefined)),
        ]);
      }
      assert.ok(refused, 'a request was refused before 200 MB were queued');
      assert.equal((refused as { code: string }).code, ErrorCode.PEER_UNAVAILABLE);
      assert.match(String(refused), /not reading/);
      const started = Date.now();
      await Promise.all(puts);
      assert.ok(
        Date.now() - started < 3_000,
        'the waiting requests failed once the stall timeout closed the connection',
      );
    } finally {
      client.close();
      deaf.close();
    }
  });
});

describe('GOING_AWAY (protocol 2)', () => {
  it('a stopping node makes protocol-2 peers send their next request elsewhere at once; protocol-1 peers are still served', async () => {
    let release: () => void = () => undefined;
    const slow: PeerRequestHandler = {
      ...handler,
      get: (_keyspace, key) =>
        key === 'slow'
          ? new Promise((resolve) => (release = () => resolve({ bytes: VALUE, expiresAt: 0 })))
          : { bytes: VALUE, expiresAt: 0 },
    };
    // The pure handshake allows any range; a server that still speaks version 1 shows both kinds of peer.
    const server = await startServer(
      '127.0.70.8:3320',
      { kind: 'none' },
      { versions: { min: 1, max: 2 } },
      silentLogger,
      slow,
    );
    const current = new PeerClient('127.0.70.8:3320', { kind: 'none' }, { versions: { min: 2, max: 2 } });
    const older = new PeerClient('127.0.70.8:3320', { kind: 'none' }, { versions: { min: 1, max: 1 } });
    try {
      assert.equal(await current.verify(), 2);
      assert.equal(await older.verify(), 1);
      const inProgress = get(current, 'slow');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const closing = server.close(5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const error = await rejectsWithCode(get(current), ErrorCode.PEER_UNAVAILABLE);
      assert.match(error.message, /stopping/);
      assert.equal((await get(older)).type, MessageType.VALUE);
      release();
      assert.equal((await inProgress).type, MessageType.VALUE, 'the request in progress is still answered');
      await closing;
    } finally {
      current.close();
      older.close();
    }
  });
});
