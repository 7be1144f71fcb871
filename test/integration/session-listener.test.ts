import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Engine, ErrorCode } from '../../src/index.js';
import {
  DcMessageDecoder,
  encodeMessage,
  Operation,
  parseAddRequest,
  Status,
  type DcMessage,
} from '../../src/protocol/codec.js';
import { throwsWithCode } from '../helpers/assert-code.js';
import { silentLogger, sleep } from '../helpers/engine.js';
import { loadVectors } from '../helpers/vectors.js';

const vectors = { exchanges: loadVectors() };
const HOST = '127.0.30.2';
const PORT = 5757;
const UNIX_PATH = path.join(tmpdir(), `distcache-test-${process.pid}.sock`);

/** A persistent client connection that sends bytes and reads whole response messages. */
class RawClient {
  readonly socket: net.Socket;
  readonly #decoder = new DcMessageDecoder();
  readonly #messages: DcMessage[] = [];
  readonly #raw: Buffer[] = [];
  #waiter: (() => void) | undefined;
  readonly closed: Promise<void>;

  constructor(options: net.NetConnectOpts) {
    this.socket = net.connect(options);
    this.socket.on('data', (chunk) => {
      this.#raw.push(chunk);
      this.#messages.push(...this.#decoder.push(chunk));
      this.#waiter?.();
    });
    this.closed = new Promise((resolve) => this.socket.on('close', () => (resolve(), this.#waiter?.())));
    this.socket.on('error', () => undefined);
  }

  /** Sends a request and resolves the raw bytes of its whole response. */
  async exchange(bytes: Uint8Array): Promise<Buffer> {
    const before = this.#messages.length;
    this.#raw.length = 0;
    this.socket.write(bytes);
    while (this.#messages.length === before) {
      if (this.socket.destroyed) throw new Error('connection closed');
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
    return Buffer.concat(this.#raw);
  }
}

const idOf = (request: DcMessage): string => {
  if (request.operation !== Operation.ADD) return Buffer.from(request.data).toString('hex');
  const add = parseAddRequest(request.data);
  assert.ok(add.ok);
  return Buffer.from(add.id).toString('hex');
};

describe('distcache session listener', () => {
  let engine: Engine;
  before(async () => {
    engine = new Engine({
      logger: silentLogger,
      keyspaces: [],
      sessionCache: {
        listen: [`IP:${HOST}:${PORT}`, `UNIX:${UNIX_PATH}`],
        socket: { mode: 0o600 },
        idleTimeout: 5_000,
      },
    });
    await engine.start();
  });
  after(async () => {
    await engine.stop();
  });

  it('answers every captured request with the captured response bytes, given the same cache contents', async () => {
    const client = new RawClient({ host: HOST, port: PORT });
    for (const exchange of vectors.exchanges) {
      const requestBytes = Buffer.from(exchange.request_frames.join(''), 'hex');
      const expected = Buffer.from(exchange.response_frames.join(''), 'hex');
      const [request] = new DcMessageDecoder().push(requestBytes);
      const [response] = new DcMessageDecoder().push(expected);
      const key = idOf(request!);
      const present =
        exchange.kind.endsWith(':0:1x1') && exchange.operation !== 'ADD'
          ? true
          : exchange.kind.startsWith('ADD:101') || exchange.kind.startsWith('GET:data');
      await engine.delete('ssl-sessions', key);
      if (present)
        await engine.put('ssl-sessions', {
          key,
          value: exchange.kind.startsWith('GET:data') ? response!.data : Uint8Array.of(1, 2, 3, 4),
          ttl: 60_000,
        });
      assert.deepEqual(await client.exchange(requestBytes), expected, `${exchange.kind} uid ${exchange.request_uid}`);
    }
    client.socket.destroy();
  });

  it('stores ADD with its timeout in milliseconds, and never overwrites', async () => {
    const client = new RawClient({ host: HOST, port: PORT });
    const add = (id: string, timeout: number, session: string) => {
      const data = Buffer.alloc(8 + id.length + session.length);
      data.writeUInt32BE(timeout, 0);
      data.writeUInt32BE(id.length, 4);
      data.write(id + session, 8);
      return encodeMessage({ isResponse: false, requestUid: 9, operation: Operation.ADD, data });
    };
    const have = (id: string) =>
      encodeMessage({ isResponse: false, requestUid: 10, operation: Operation.HAVE, data: Buffer.from(id) });
    const status = (bytes: Buffer) => bytes[bytes.byteLength - 1];
    assert.equal(status(await client.exchange(add('short-lived', 150, 'session-a'))), Status.OK);
    assert.equal(status(await client.exchange(add('short-lived', 150, 'session-b'))), Status.MATCHING_SESSION);
    assert.equal(status(await client.exchange(have('short-lived'))), Status.OK);
    await sleep(200);
    assert.equal(status(await client.exchange(have('short-lived'))), Status.NOTOK);
    assert.equal(status(await client.exchange(add('x', 604_800_001, 'session'))), Status.TIMEOUT_RANGE);
    client.socket.destroy();
  });

  it('serves a UNIX socket with the requested mode', async () => {
    assert.equal(statSync(UNIX_PATH).mode & 0o777, 0o600);
    const client = new RawClient({ path: UNIX_PATH });
    const reply = await client.exchange(
      encodeMessage({ isResponse: false, requestUid: 3, operation: Operation.HAVE, data: Buffer.from('nobody') }),
    );
    assert.equal(reply[reply.byteLength - 1], Status.NOTOK);
    client.socket.destroy();
  });

  it('answers a request trickled one byte at a time', async () => {
    const client = new RawClient({ host: HOST, port: PORT });
    const request = encodeMessage({
      isResponse: false,
      requestUid: 77,
      operation: Operation.GET,
      data: Buffer.from('trickled'),
    });
    for (let i = 0; i < request.byteLength - 1; i++) {
      client.socket.write(request.subarray(i, i + 1));
      await sleep(1);
    }
    const reply = await client.exchange(request.subarray(request.byteLength - 1));
    assert.deepEqual([...reply.subarray(5, 9)], [0, 0, 0, 77]);
    client.socket.destroy();
  });

  for (const [what, bytes] of [
    ['garbage', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
    ['another protocol version', Buffer.from('00120000000000000100010100', 'hex')],
    ['an oversized data length', Buffer.from('0011000000000000010001010fff', 'hex')],
    ['a short non-final frame', Buffer.from('0011000000000000010000000010', 'hex')],
  ] as const) {
    it(`closes a connection that sends ${what}, and keeps serving the others`, async () => {
      const good = new RawClient({ host: HOST, port: PORT });
      const bad = new RawClient({ host: HOST, port: PORT });
      bad.socket.write(bytes);
      await bad.closed;
      const reply = await good.exchange(
        encodeMessage({ isResponse: false, requestUid: 1, operation: Operation.HAVE, data: Buffer.from('still-here') }),
      );
      assert.equal(reply[reply.byteLength - 1], Status.NOTOK);
      good.socket.destroy();
    });
  }

  it('keeps serving while 10,000 idle connections are open', async () => {
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const net=require('net');let n=0;for(let i=0;i<10000;i++){const s=net.connect({host:'${HOST}',port:${PORT}},()=>{if(++n===10000)console.log('ready')});s.on('error',()=>{})}`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (chunk) => String(chunk).includes('ready') && resolve());
        holder.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      const client = new RawClient({ host: HOST, port: PORT });
      const reply = await client.exchange(
        encodeMessage({ isResponse: false, requestUid: 5, operation: Operation.HAVE, data: Buffer.from('busy') }),
      );
      assert.equal(reply[reply.byteLength - 1], Status.NOTOK);
      client.socket.destroy();
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('refuses a listen address it cannot parse, naming it', () => {
    const error = throwsWithCode(
      () => new Engine({ logger: silentLogger, keyspaces: [], sessionCache: { listen: ['TCP:1234'] } }),
      ErrorCode.INVALID_CONFIG,
    );
    assert.match(error.message, /address "TCP:1234": unknown scheme; use UNIX:\/path, IP:port or IP:host:port/);
  });
});

describe('distcache session listener over TLS, with an idle timeout', () => {
  it('serves TLS clients with a certificate from its CA, refuses others, and closes idle connections', async () => {
    const { TestCa } = await import('../helpers/certs.js');
    const ca = new TestCa('sessions');
    const server = ca.issue('server', ['127.0.30.3']);
    const engine = new Engine({
      logger: silentLogger,
      keyspaces: [],
      sessionCache: {
        listen: ['IP:127.0.30.3:5758'],
        tls: { key: readFileSync(server.key), cert: readFileSync(server.cert), ca: readFileSync(ca.ca.cert) },
        idleTimeout: 300,
      },
    });
    await engine.start();
    try {
      const { DcClient } = await import('../../src/protocol/client.js');
      const { parseSessionAddress } = await import('../../src/protocol/address.js');
      const client = ca.issue('client', ['127.0.0.1']);
      const member = new DcClient(parseSessionAddress('IP:127.0.30.3:5758'), {
        tls: {
          key: readFileSync(client.key),
          cert: readFileSync(client.cert),
          ca: readFileSync(ca.ca.cert),
          checkServerIdentity: () => undefined,
        },
      });
      assert.deepEqual([...(await member.request(Operation.HAVE, Buffer.from('x'))).data], [Status.NOTOK]);
      await sleep(500);
      await assert.rejects(member.request(Operation.HAVE, Buffer.from('x')), /unavailable/, 'closed after idleTimeout');
      const stranger = new DcClient(parseSessionAddress('IP:127.0.30.3:5758'), {
        tls: { ca: readFileSync(ca.ca.cert), checkServerIdentity: () => undefined },
      });
      await assert.rejects(stranger.connected.then(() => stranger.request(Operation.HAVE, Buffer.from('x'))));
      stranger.close();
    } finally {
      await engine.stop();
    }
  });
});
