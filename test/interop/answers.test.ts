import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DcMessageDecoder, encodeAddRequest, encodeMessage, Operation } from '../../src/protocol/codec.js';
import { DISTCACHE, isListening, locateCTools, Processes, type Started } from '../helpers/c-tools.js';
import { EDGE_CASES } from '../helpers/session-edge-cases.js';
import { exchange } from '../helpers/session-exchange.js';

// Fails the file, naming what is missing, when DISTCACHE_C_TOOLS is unset or incomplete.
const tools = locateCTools();
const processes = new Processes();

const DC_SERVER = 'IP:127.0.91.1:9101';
const SERVE = 'IP:127.0.91.2:9102';

const startDcServer = (address: string) =>
  processes.start('dc_server', tools.dcServer, ['-listen', address], () => isListening(address));

describe('distcache serve answers as dc_server does, byte for byte', () => {
  let dcServer: Started;
  let serve: Started;
  before(async () => {
    dcServer = await startDcServer(DC_SERVER);
    serve = await processes.start('serve', DISTCACHE.command, DISTCACHE.args('serve', '--listen', SERVE), (started) =>
      /listening on/.test(started.output()),
    );
  });
  after(async () => {
    await Promise.all([serve, dcServer].filter(Boolean).map((started) => processes.stop(started)));
    await processes.killAll();
  });

  for (const edge of EDGE_CASES) {
    it(edge.name, async () => {
      const options = { pipelined: edge.pipelined };
      const reference = await exchange(DC_SERVER, edge.requests, options);
      const ours = await exchange(SERVE, edge.requests, options);
      assert.deepEqual(ours, reference, 'serve answers differ from dc_server');
      assert.deepEqual(reference, edge.expected, 'dc_server answers differ from docs/protocol.md');
    });
  }

  it('an ADD of 4097 to 4100 bytes: serve answers it once, dc_server three times (its 4096-byte buffer)', async (t) => {
    for (let total = 4097; total <= 4100; total++) {
      const id = Buffer.from(`id-of-a-${total}-byte-add`);
      const data = encodeAddRequest(60_000, id, Buffer.alloc(total - 28 - 8 - id.byteLength, 7)); // two frame headers
      const add = encodeMessage({ isResponse: false, requestUid: total, operation: Operation.ADD, data });
      const have = encodeMessage({ isResponse: false, requestUid: 1, operation: Operation.HAVE, data: id });
      assert.equal(add.byteLength, total);
      const answer = (uid: number, operation: Operation, status: number) =>
        encodeMessage({ isResponse: true, requestUid: uid, operation, data: Uint8Array.of(status) }).toString('hex');
      // serve: the ADD's answer, the HAVE's, then nothing more.
      const ours = await exchange(SERVE, [add, have], { pipelined: true, answers: 3, deadlineMs: 500 });
      assert.deepEqual(ours, [`silent:${answer(total, Operation.ADD, 0)}${answer(1, Operation.HAVE, 0)}`]);
      // dc_server: the same first answer, then two more to the same request.
      const [reference] = await exchange(DC_SERVER, [add, have], { pipelined: true, answers: 4 });
      const messages = new DcMessageDecoder().push(Buffer.from(reference!, 'hex'));
      const seen = messages.map((message) => `${message.requestUid}:${message.data[0]}`);
      t.diagnostic(`dc_server answered a ${total}-byte ADD (uid ${total}) then a HAVE (uid 1) with ${seen.join(' ')}`);
      assert.equal(reference!.slice(0, 30), answer(total, Operation.ADD, 0));
      assert.ok(messages.filter((message) => message.requestUid === total).length > 1, seen.join(' '));
    }
  });

  it('another protocol version: both close the connection; dc_server aborts, serve goes on serving', async () => {
    // A separate dc_server: this request kills it.
    const doomed = await startDcServer('IP:127.0.91.3:9103');
    const other = encodeMessage({
      isResponse: false,
      requestUid: 1,
      operation: Operation.HAVE,
      data: Buffer.from('x'),
    });
    other.writeUInt16BE(0x0012, 0); // version 0x0012
    assert.deepEqual(await exchange('IP:127.0.91.3:9103', [other]), ['closed']);
    assert.deepEqual(await exchange(SERVE, [other]), ['closed']);
    assert.equal(await doomed.exited, 'SIGABRT', doomed.output());
    assert.match(doomed.output(), /protocol incompatibility; my level is 00110000, the peer's is 00120000/);
    const still = EDGE_CASES.find((edge) => edge.name.startsWith('absent ids'))!;
    assert.deepEqual(await exchange(SERVE, still.requests), still.expected);
    assert.equal(serve.child.exitCode, null);
  });
});
