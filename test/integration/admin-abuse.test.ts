import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, type Engine } from '../../src/index.js';
import { CliProcess } from '../helpers/cli.js';
import { bytes, countingSource, sleep, startEngine } from '../helpers/engine.js';

const TOKEN = 'admin-token-0123456789';

describe('the admin server under abuse', () => {
  let engine: Engine;
  let url: URL;
  before(async () => {
    engine = await startEngine({ dataSource: countingSource() }, { admin: { listen: '127.0.80.30:0', token: TOKEN } });
    url = new URL(engine.adminUrl()!);
  });
  after(() => engine.stop());

  it('keeps answering GET /health while 300 slow clients hold, and retake, every connection slot', async () => {
    const slow = new Set<net.Socket>();
    let stopped = false;
    // A slowloris: connects, sends half a request header, and connects again whenever it is closed.
    const holdSlot = (): void => {
      if (stopped) return;
      const socket = net.connect({ host: url.hostname, port: Number(url.port) });
      slow.add(socket);
      socket.on('error', () => undefined);
      socket.on('connect', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n'));
      socket.on('close', () => (slow.delete(socket), setTimeout(holdSlot, 5)));
    };
    for (let i = 0; i < 300; i++) holdSlot();
    try {
      await sleep(500);
      for (let probe = 0; probe < 20; probe++) {
        const response = await fetch(`${url.origin}/health`, { signal: AbortSignal.timeout(5_000) });
        assert.equal(response.status, 200, `probe ${probe}`);
        assert.equal(((await response.json()) as { status: string }).status, 'ok');
        await sleep(100);
      }
    } finally {
      stopped = true;
      for (const socket of slow) socket.destroy();
    }
  });

  for (const [what, header] of [
    ['Content-Length: 2000000000', 'Content-Length: 2000000000\r\n'],
    ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked\r\n'],
  ] as const) {
    it(`refuses a request with a body (${what}) with 413 and closes the connection without reading the body`, async () => {
      const socket = net.connect({ host: url.hostname, port: Number(url.port) });
      let answer = '';
      let sent = 0;
      socket.on('data', (chunk) => (answer += chunk));
      socket.on('error', () => undefined);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`GET /health HTTP/1.1\r\nHost: x\r\n${header}\r\n`);
      // Keep sending body bytes as fast as the server takes them, for up to 5 s.
      const block = Buffer.alloc(64 * 1024, 'a');
      const until = Date.now() + 5_000;
      let done = false;
      void closed.then(() => (done = true));
      while (!done && Date.now() < until) {
        sent += block.byteLength;
        if (!socket.write(block)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
      }
      await Promise.race([closed, sleep(1_000)]);
      socket.destroy();
      assert.ok(done, `the connection was still open after ${sent} body bytes`);
      assert.ok(sent < 64 * 1024 * 1024, `the server took ${sent} body bytes`);
      assert.match(answer, /^HTTP\/1\.1 413 /);
      assert.match(answer, /"code":"ERR_CONTENT_TOO_LARGE"/);
      assert.match(answer, /connection: close/i);
    });
  }

  it('accepts the bearer scheme in any case (RFC 9110), and nothing but the token', async () => {
    const remove = async (authorization: string) => {
      await engine.put('ks', { key: 'k', value: bytes('v') });
      const response = await fetch(`${url.origin}/keyspaces/ks/keys/k`, {
        method: 'DELETE',
        headers: { authorization },
      });
      const body = (await response.json()) as { error?: { code: string } };
      return response.status === 200 ? 200 : `${response.status} ${body.error?.code}`;
    };
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR'])
      assert.equal(await remove(`${scheme} ${TOKEN}`), 200);
    assert.equal(await remove(`Bearer   ${TOKEN}`), 200, 'one or more spaces after the scheme');
    const refused = `401 ${ErrorCode.UNAUTHORIZED}`;
    for (const authorization of [
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(1)}`,
      `Bearer`,
      TOKEN,
      `Bearer${TOKEN}`,
    ])
      assert.equal(await remove(authorization), refused, authorization);
  });
});

describe('an admin client that pipelines requests and never reads the answers', () => {
  let serve: CliProcess;
  before(async () => {
    serve = await CliProcess.start(
      ['serve', '--listen', 'IP:127.0.80.31:4831', '--admin', '127.0.80.31:4832'],
      /admin on/,
    );
  });
  after(() => serve.stop());

  it('costs serve a bounded memory, leaves /health answered, and is closed before it got every answer', async () => {
    const health = async () => {
      const started = Date.now();
      const response = await fetch('http://127.0.80.31:4832/health', { signal: AbortSignal.timeout(5_000) });
      assert.equal(response.status, 200);
      assert.ok(Date.now() - started < 2_000, 'GET /health took more than 2 s');
    };
    const page = (await (await fetch('http://127.0.80.31:4832/')).text()).length;
    for (let i = 0; i < 20; i++) await health();
    const baseline = serve.rssMiB();
    let peak = baseline;
    const flood = net.connect({ host: '127.0.80.31', port: 4832 });
    flood.on('error', () => undefined);
    await new Promise((resolve) => flood.once('connect', resolve));
    flood.pause();
    const requests = 20_000;
    flood.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(requests)));
    for (const until = Date.now() + 3_000; Date.now() < until; await sleep(100)) {
      await health();
      peak = Math.max(peak, serve.rssMiB());
    }
    assert.ok(peak - baseline < 64, `serve grew from ${baseline.toFixed(0)} to ${peak.toFixed(0)} MiB`);
    await sleep(9_000); // past the 10 s the admin server waits for a connection to read its answers
    let received = 0;
    flood.on('data', (chunk: Buffer) => (received += chunk.byteLength));
    const closed = new Promise((resolve) => flood.once('close', resolve));
    flood.resume();
    await Promise.race([closed, sleep(5_000).then(() => assert.fail('the flooding connection was not closed'))]);
    assert.ok(received < requests * page, `received ${received} bytes: every answer`);
  });
});
