import assert from 'node:assert/strict';
import { request, Agent } from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Engine } from '../../src/index.js';
import { countingSource, startEngine } from '../helpers/engine.js';

/** HTTP requests per property: each is a real round trip, so fewer than the decoder fuzzers. */
const RUNS = Math.max(1, Math.floor(Number(process.env.FUZZ_RUNS ?? 100_000) / 50));
const TOKEN = 'admin-token-0123456789';

function send(
  url: URL,
  agent: Agent,
  method: string,
  path: string,
  authorization?: string,
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: url.hostname, port: url.port, method, path, agent, headers: authorization ? { authorization } : {} },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode!, type: String(response.headers['content-type']), body }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('fuzz: admin HTTP routes', () => {
  let engine: Engine;
  let url: URL;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  before(async () => {
    engine = await startEngine({ dataSource: countingSource() }, { admin: { listen: '127.0.0.1:0', token: TOKEN } });
    url = new URL(engine.adminUrl()!);
  });
  after(async () => {
    agent.destroy();
    await engine.stop();
  });

  it('any method, path and query gets 200 or a 4xx JSON error with an ERR_ code, never a 5xx or a crash', async () => {
    const word = fc.oneof(
      fc.constantFrom(
        'health',
        'ready',
        'metrics',
        'peers',
        'owner',
        'ownership',
        'keyspaces',
        'ks',
        'keys',
        '',
        '..',
        '.',
        '%',
        '%zz',
        '%E0%A4%A',
        '%00',
        '%2F',
      ),
      fc.string({ maxLength: 12 }).map(encodeURIComponent),
    );
    const path = fc
      .tuple(
        fc.array(word, { maxLength: 5 }),
        fc.array(fc.tuple(fc.constantFrom('keyspace', 'key', 'x'), fc.oneof(word, fc.constant('ks'))), {
          maxLength: 3,
        }),
      )
      .map(
        ([segments, query]) =>
          '/' +
          segments.join('/') +
          (query.length ? '?' + query.map(([name, value]) => `${name}=${value}`).join('&') : ''),
      );
    const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE');
    const authorization = fc.constantFrom(undefined, `Bearer ${TOKEN}`, 'Bearer wrong', 'Basic abc', '');
    await fc.assert(
      fc.asyncProperty(method, path, authorization, async (verb, target, auth) => {
        const reply = await send(url, agent, verb, target, auth);
        assert.ok(reply.status < 500, `${verb} ${target} -> ${reply.status} ${reply.body}`);
        if (reply.status !== 200 && verb !== 'HEAD') {
          assert.match(reply.type, /^application\/json/, `${verb} ${target}`);
          assert.match(JSON.parse(reply.body).error.code, /^ERR_[A-Z_]+$/);
        }
      }),
      { numRuns: RUNS },
    );
    assert.equal((await send(url, agent, 'GET', '/health')).status, 200, 'still serving');
  });

  it('malformed HTTP on the socket gets a 400 or a closed connection, and the server keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string({ maxLength: 200 }).map((text) => Buffer.from(`${text}\r\n\r\n`)),
        ),
        async (garbage) => {
          await new Promise<void>((resolve) => {
            const socket = net.connect(Number(url.port), url.hostname, () => socket.end(garbage));
            socket.on('error', () => resolve());
            socket.on('close', () => resolve());
            socket.resume();
          });
        },
      ),
      { numRuns: Math.max(1, Math.floor(RUNS / 4)) },
    );
    assert.equal((await send(url, agent, 'GET', '/health')).status, 200);
  });
});
