import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import fc from 'fast-check';
import { MAX_ID_BYTES, MAX_TIMEOUT_MS } from '../../src/protocol/codec.js';
import { attemptWithin } from '../../src/tls/attempt.js';
import { sessionProtocolVersion } from '../../src/tls/session-der.js';
import { epochOf, ticketKeyId } from '../../src/tls/ticket-keys.js';
import { TestCa } from '../helpers/certs.js';

/** The sessions a real Node server hands to `newSession` for one handshake of `version`. */
async function serverSessions(version: 'TLSv1.2' | 'TLSv1.3'): Promise<Buffer[]> {
  const ca = new TestCa('session-der');
  const files = ca.issue('server', ['127.0.0.1']);
  const sessions: Buffer[] = [];
  const server = tls.createServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) }, (socket) =>
    socket.end('x'),
  );
  server.on('newSession', (_id: Buffer, session: Buffer, done: () => void) => {
    sessions.push(session);
    done();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        ca: readFileSync(ca.ca.cert),
        minVersion: version,
        maxVersion: version,
        secureOptions: version === 'TLSv1.2' ? constants.SSL_OP_NO_TICKET : 0,
      });
      socket.on('data', () => undefined);
      socket.once('close', () => resolve());
      socket.once('error', reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  return sessions;
}

describe('distcache/tls parts', () => {
  it('reads the protocol version of the sessions Node serializes, and never throws on other bytes', async () => {
    const tls12 = await serverSessions('TLSv1.2');
    const tls13 = await serverSessions('TLSv1.3');
    assert.ok(tls12.length >= 1 && tls13.length >= 1);
    for (const session of tls12) assert.equal(sessionProtocolVersion(session), 0x0303);
    for (const session of tls13) assert.equal(sessionProtocolVersion(session), 0x0304);
    const real = tls13[0]!;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: real.byteLength }), (bytes, cut) => {
        const version = sessionProtocolVersion(bytes);
        assert.ok(version === undefined || (version >= 0 && version <= 0xffff));
        assert.ok([undefined, 0x0304].includes(sessionProtocolVersion(real.subarray(0, cut))));
      }),
      { numRuns: 20_000 },
    );
  });

  it('names every epoch key within the protocol id limit, the same on every server', () => {
    const longest = ticketKeyId('x'.repeat(24), MAX_TIMEOUT_MS, epochOf(8.64e15, 1_000));
    assert.ok(longest.byteLength <= MAX_ID_BYTES, `${longest.byteLength} bytes`);
    assert.equal(epochOf(5_999, 3_000), 1);
    assert.equal(epochOf(6_000, 3_000), 2);
    assert.deepEqual(ticketKeyId('default', 3_000, 2), ticketKeyId('default', 3_000, 2));
    assert.notDeepEqual(ticketKeyId('default', 3_000, 2), ticketKeyId('default', 6_000, 2));
  });

  it('an attempt resolves its value, its error, or a timeout at the deadline, and never rejects', async () => {
    assert.deepEqual(await attemptWithin(1_000, async () => 7), { ok: true, value: 7 });
    const failed = await attemptWithin(1_000, () => {
      throw new Error('sync');
    });
    assert.equal(failed.ok, false);
    const started = performance.now();
    let aborted = false;
    const late = await attemptWithin(
      50,
      (signal) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => (aborted = true));
          setTimeout(resolve, 500);
        }),
    );
    assert.equal(late.ok, false);
    assert.equal((late as { error: { code?: string } }).error.code, 'ERR_TIMEOUT');
    assert.ok(aborted, 'the work was told to stop');
    assert.ok(performance.now() - started < 400);
    const cancel = new AbortController();
    const cancelled = attemptWithin(10_000, () => new Promise(() => undefined), cancel.signal);
    cancel.abort(new Error('closed'));
    assert.equal(((await cancelled) as { error: Error }).error.message, 'closed');
  });
});
