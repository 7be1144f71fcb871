import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { DistCacheError, Engine, ErrorCode } from '../../src/index.js';
import {
  DcMessageDecoder,
  encodeAddRequest,
  encodeMessage,
  Operation,
  Status,
  type DcMessage,
} from '../../src/protocol/codec.js';
import { SessionListener } from '../../src/protocol/listener.js';
import { SessionOperations, type SessionStore } from '../../src/protocol/session-operations.js';
import { silentLogger, sleep } from '../helpers/engine.js';

const HOST = '127.0.122.30';
let nextPort = 4400;

/** A connection that writes requests as one chunk (pipelined) and collects whole responses. */
class PipeliningClient {
  readonly socket: net.Socket;
  readonly responses: DcMessage[] = [];
  readonly #decoder = new DcMessageDecoder();
  readonly closed: Promise<void>;
  #waiter: (() => void) | undefined;

  constructor(port: number) {
    this.socket = net.connect({ host: HOST, port });
    this.socket.on('data', (chunk) => {
      this.responses.push(...this.#decoder.push(chunk));
      this.#waiter?.();
    });
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.on('close', () => (resolve(), this.#waiter?.())));
  }

  /** Sends every request in one write; uids are 1, 2, 3, ... */
  send(requests: readonly [Operation, Uint8Array][]): void {
    this.socket.write(
      Buffer.concat(
        requests.map(([operation, data], i) =>
          encodeMessage({ isResponse: false, requestUid: i + 1, operation, data }),
        ),
      ),
    );
  }

  /** Resolves once `count` responses arrived (or the connection closed). */
  async received(count: number): Promise<DcMessage[]> {
    while (this.responses.length < count && !this.socket.destroyed)
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    return this.responses;
  }
}

const id = (text: string) => Buffer.from(text);
const hex = (text: string) => id(text).toString('hex');
const answers = (responses: DcMessage[]) => responses.map((response) => Buffer.from(response.data).toString());

async function listen(store: SessionStore): Promise<{ port: number; listener: SessionListener }> {
  const port = nextPort++;
  const listener = new SessionListener(
    { listen: [`IP:${HOST}:${port}`], tls: undefined, socket: undefined, idleTimeout: 30_000, maxConnections: 10 },
    new SessionOperations(store),
    silentLogger,
  );
  await listener.start();
  return { port, listener };
}

describe('session listener pipelining, with answers at once and answers that wait', () => {
  const listeners: SessionListener[] = [];
  const clients: PipeliningClient[] = [];
  after(async () => {
    for (const client of clients) client.socket.destroy();
    await Promise.all(listeners.map((listener) => listener.stop()));
  });
  const start = async (store: SessionStore) => {
    const { port, listener } = await listen(store);
    listeners.push(listener);
    const client = new PipeliningClient(port);
    clients.push(client);
    return client;
  };

  it('answers a store that answers at once without a promise', () => {
    const operations = new SessionOperations({
      get: (key) => (key === hex('hit') ? id('session') : undefined),
      put: () => true,
      delete: () => false,
    });
    const answer = operations.answer({ isResponse: false, requestUid: 1, operation: Operation.GET, data: id('hit') });
    assert.ok(answer instanceof Uint8Array, 'a local hit is answered in the same turn');
    assert.equal(Buffer.from(answer).toString(), 'session');
  });

  it('keeps request order across a mix of hits, misses and answers that wait', async () => {
    // Keys starting with "far" answer after a delay (another node); the others at once.
    const sessions = new Map([...'abcdefgh'].flatMap((letter) => [[hex(letter), id(`s-${letter}`)]] as const));
    for (const letter of 'abcd') sessions.set(hex(`far${letter}`), id(`s-far${letter}`));
    let delay = 0;
    const client = await start({
      get: (key) =>
        key.startsWith(hex('far')) ? sleep(5 + (delay++ % 3) * 10).then(() => sessions.get(key)) : sessions.get(key),
      put: () => true,
      delete: () => false,
    });
    const keys = ['a', 'fara', 'b', 'missing', 'farb', 'farc', 'c', 'd', 'farnone', 'e', 'fard', 'f', 'g', 'h'];
    client.send(keys.map((key) => [Operation.GET, id(key)]));
    const responses = await client.received(keys.length);
    assert.deepEqual(
      responses.map((response) => response.requestUid),
      keys.map((_, i) => i + 1),
    );
    assert.deepEqual(
      answers(responses),
      keys.map((key) => (sessions.has(hex(key)) ? `s-${key}` : String.fromCharCode(Status.NOTOK))),
    );
  });

  it('holds the hits after a request that waits until it is answered, then answers them in order', async () => {
    let release: (value: Uint8Array) => void = () => undefined;
    const client = await start({
      get: (key) =>
        key === hex('load')
          ? new Promise<Uint8Array>((resolve) => (release = resolve))
          : key === hex('hit')
            ? id('s-hit')
            : undefined,
      put: () => true,
      delete: () => false,
    });
    client.send([
      [Operation.GET, id('hit')],
      [Operation.GET, id('load')],
      [Operation.GET, id('hit')],
      [Operation.HAVE, id('hit')],
    ]);
    await client.received(1);
    await sleep(100);
    assert.deepEqual(answers(client.responses), ['s-hit'], 'only the hit before the load is answered while it loads');
    release(id('s-load'));
    const responses = await client.received(4);
    assert.deepEqual(answers(responses), ['s-hit', 's-load', 's-hit', String.fromCharCode(Status.OK)]);
    assert.deepEqual(
      responses.map((response) => response.requestUid),
      [1, 2, 3, 4],
    );
  });

  it('keeps the bytes of requests held behind one that waits while other connections read into the shared buffer', async () => {
    let release: (value: Uint8Array) => void = () => undefined;
    const stored = new Map<string, string>();
    const store: SessionStore = {
      get: (key) => (key === hex('load') ? new Promise<Uint8Array>((resolve) => (release = resolve)) : undefined),
      put: (key, value) => (stored.set(key, Buffer.from(value).toString()), true),
      delete: () => false,
    };
    const { port, listener } = await listen(store);
    listeners.push(listener);
    const waiting = new PipeliningClient(port);
    const other = new PipeliningClient(port);
    clients.push(waiting, other);
    const mine = 'A'.repeat(1500);
    waiting.send([
      [Operation.GET, id('load')],
      [Operation.ADD, encodeAddRequest(60_000, id('mine'), id(mine))],
      [Operation.HAVE, id('mine')],
    ]);
    await sleep(50); // the listener has read all three; the ADD and HAVE wait behind the load
    other.send(
      Array.from({ length: 20 }, (_, i) => [
        Operation.ADD,
        encodeAddRequest(60_000, id(`other-${i}`), id('B'.repeat(1500))),
      ]),
    );
    await other.received(20);
    release(id('s-load'));
    await waiting.received(3);
    assert.equal(stored.get(hex('mine')), mine, "the held ADD's session is its own bytes, not the other connection's");
    assert.deepEqual(
      waiting.responses.map((response) => response.requestUid),
      [1, 2, 3],
    );
  });

  it('reassembles a request trickled in pieces of a few bytes while another connection floods the shared buffer', async () => {
    const stored = new Map<string, Uint8Array>();
    const { port, listener } = await listen({
      get: (key) => stored.get(key),
      put: (key, value) => (stored.set(key, Uint8Array.from(value)), true),
      delete: () => false,
    });
    listeners.push(listener);
    const trickling = new PipeliningClient(port);
    const flooding = new PipeliningClient(port);
    clients.push(trickling, flooding);
    trickling.socket.setNoDelay(true);
    const mine = Uint8Array.from({ length: 3000 }, (_, i) => i % 251); // two frames
    const add = encodeMessage({
      isResponse: false,
      requestUid: 1,
      operation: Operation.ADD,
      data: encodeAddRequest(60_000, id('mine'), mine),
    });
    for (let at = 0; at < add.length; at += 7) {
      trickling.socket.write(add.subarray(at, at + 7));
      if (at % 700 === 0) {
        const burst = Array.from({ length: 5 }, (_, i): [Operation, Uint8Array] => [
          Operation.ADD,
          encodeAddRequest(60_000, id(`flood-${at}-${i}`), new Uint8Array(3000).fill(0xbb)),
        ]);
        flooding.send(burst);
        await sleep(1); // the listener reads both connections between the pieces
      }
    }
    await trickling.received(1);
    assert.deepEqual([...trickling.responses[0]!.data], [Status.OK]);
    assert.deepEqual(stored.get(hex('mine')), mine, "the trickled session is its own bytes, not the flood's");
  });

  it('answers DISCONNECTED for a failure mid-pipeline and goes on; closes after the answers before an ADD it cannot parse', async () => {
    const unreachable = new DistCacheError(ErrorCode.PEER_UNAVAILABLE, 'no node could serve the key');
    const client = await start({
      get: (key) => {
        if (key === hex('throws')) throw unreachable;
        if (key === hex('rejects')) return Promise.reject(unreachable);
        return key === hex('hit') ? id('s-hit') : undefined;
      },
      put: () => true,
      delete: () => false,
    });
    client.send([
      [Operation.GET, id('hit')],
      [Operation.GET, id('throws')],
      [Operation.GET, id('hit')],
      [Operation.GET, id('rejects')],
      [Operation.GET, id('hit')],
      [Operation.ADD, Uint8Array.of(0, 0, 1)],
      [Operation.GET, id('hit')],
    ]);
    await client.closed;
    const disconnected = String.fromCharCode(Status.DISCONNECTED);
    assert.deepEqual(answers(client.responses), ['s-hit', disconnected, 's-hit', disconnected, 's-hit']);
  });
});

describe('session listener pipelining over an engine', () => {
  it('a pipelined ADD, GET, REMOVE, GET of one id see each other in order', async () => {
    const port = nextPort++;
    const engine = new Engine({
      logger: silentLogger,
      keyspaces: [],
      sessionCache: { listen: [`IP:${HOST}:${port}`] },
    });
    await engine.start();
    const client = new PipeliningClient(port);
    try {
      const requests: [Operation, Uint8Array][] = [];
      for (let i = 0; i < 50; i++) {
        const session = id(`session-${i}`);
        requests.push(
          [Operation.ADD, encodeAddRequest(60_000, id(`id-${i}`), session)],
          [Operation.GET, id(`id-${i}`)],
          [Operation.ADD, encodeAddRequest(60_000, id(`id-${i}`), id('other'))],
          [Operation.REMOVE, id(`id-${i}`)],
          [Operation.HAVE, id(`id-${i}`)],
        );
      }
      client.send(requests);
      const responses = await client.received(requests.length);
      const expected = Array.from({ length: 50 }, (_, i) => [
        [Status.OK],
        [...id(`session-${i}`)],
        [Status.MATCHING_SESSION],
        [Status.OK],
        [Status.NOTOK],
      ]).flat();
      assert.deepEqual(
        responses.map((response) => [...response.data]),
        expected,
      );
    } finally {
      client.socket.destroy();
      await engine.stop();
    }
  });
});
