import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { NatsDiscovery, encodeAnnouncement, type NatsDiscoveryOptions } from '../../discovery/nats.js';
import type { DiscoveryContext } from '../../src/discovery.js';
import { ErrorCode } from '../../src/index.js';
import { throwsWithCode } from '../helpers/assert-code.js';
import { eventually, recordingContext } from '../helpers/discovery.js';
import { startNatsServer } from '../helpers/nats-server.js';

describe('NatsDiscovery against a real nats-server on loopback', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  const running: NatsDiscovery[] = [];
  const node = async (
    self: string,
    options: Partial<NatsDiscoveryOptions> = {},
    context: DiscoveryContext = recordingContext(self),
  ) => {
    const discovery = new NatsDiscovery({
      servers: nats.url,
      token: 'secret',
      reconnectInterval: 100,
      subject: 'test.discovery',
      ...options,
    });
    running.push(discovery);
    await discovery.start(context);
    return discovery;
  };

  before(async () => {
    nats = await startNatsServer({ token: 'secret' });
  });
  after(async () => {
    await Promise.all(running.map((discovery) => discovery.stop()));
    await nats.stop();
  });

  it('a joining node learns the nodes already there, and they learn it', async () => {
    const a = await node('127.0.52.2:3322');
    const bContext = recordingContext('127.0.52.3:3322');
    const b = await node('127.0.52.3:3322', {}, bContext);
    await eventually(
      async () =>
        (await b.addresses()).includes('127.0.52.2:3322') && (await a.addresses()).includes('127.0.52.3:3322'),
    );
    assert.ok(bContext.changes >= 1);
    assert.ok(!(await a.addresses()).includes('127.0.52.2:3322'), 'a node does not list itself');
  });

  it('a leaving node is forgotten by the others', async () => {
    const a = await node('127.0.53.2:3322', { subject: 'test.leave' });
    const b = await node('127.0.53.3:3322', { subject: 'test.leave' });
    await eventually(async () => (await a.addresses()).includes('127.0.53.3:3322'));
    await b.stop();
    await eventually(async () => !(await a.addresses()).includes('127.0.53.3:3322'));
  });

  it('ignores messages on the subject that are not announcements, and never lists a bogus peer', async () => {
    const a = await node('127.0.54.2:3322', { subject: 'test.hostile' });
    const intruder = await connect({ servers: nats.url, token: 'secret' });
    const junk = [
      '',
      'hello',
      '{}',
      '[]',
      'null',
      '{"distcache":1,"type":"alive","address":"not an address"}',
      '{"distcache":2,"type":"alive","address":"127.0.54.9:3322"}',
      '{"distcache":1,"type":"alive","address":"127.0.54.9:99999"}',
      'x'.repeat(10_000),
    ];
    for (const text of junk) intruder.publish('test.hostile', text);
    intruder.publish('test.hostile', new Uint8Array([0xff, 0xfe, 0x00]));
    intruder.publish('test.hostile', encodeAnnouncement({ type: 'alive', address: '127.0.54.3:3322' }));
    await intruder.flush();
    await eventually(async () => (await a.addresses()).length > 0);
    assert.deepEqual(await a.addresses(), ['127.0.54.3:3322']);
    await intruder.close();
  });

  it('keeps the known nodes while the server is down, and finds a node that started during the outage', async () => {
    const a = await node('127.0.55.2:3322', { subject: 'test.outage' });
    const b = await node('127.0.55.3:3322', { subject: 'test.outage' });
    await eventually(async () => (await a.addresses()).includes('127.0.55.3:3322'));
    await nats.stop();
    const lateContext = recordingContext('127.0.55.4:3322');
    const late = await node('127.0.55.4:3322', { subject: 'test.outage' }, lateContext);
    assert.deepEqual(await late.addresses(), []);
    assert.ok(
      lateContext.logged.some((line) => line.level === 'warn'),
      'the failed connection is logged',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(await a.addresses(), ['127.0.55.3:3322']);
    await nats.start();
    await eventually(
      async () =>
        (await late.addresses()).length === 2 &&
        (await a.addresses()).includes('127.0.55.4:3322') &&
        (await b.addresses()).includes('127.0.55.4:3322'),
      15_000,
    );
  });

  it('a wrong token is logged and retried, never thrown', async () => {
    const context = recordingContext('127.0.56.2:3322');
    const discovery = await node('127.0.56.2:3322', { token: 'wrong' }, context);
    assert.deepEqual(await discovery.addresses(), []);
    assert.ok(context.logged.some((line) => line.level === 'warn'));
  });

  it('refuses bad options with ERR_INVALID_CONFIG', () => {
    const bad: unknown[] = [
      {},
      { servers: [] },
      { servers: [''] },
      { servers: 'nats://x', subject: 'a.*' },
      { servers: 'nats://x', subject: 'a..b' },
      { servers: 'nats://x', announceInterval: 0 },
      { servers: 'nats://x', user: 'u' },
    ];
    for (const options of bad)
      throwsWithCode(() => new NatsDiscovery(options as NatsDiscoveryOptions), ErrorCode.INVALID_CONFIG);
  });
});
