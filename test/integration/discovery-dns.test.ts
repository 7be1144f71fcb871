import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { DnsDiscovery, type DnsDiscoveryOptions } from '../../discovery/dns.js';
import { ErrorCode } from '../../src/index.js';
import { throwsWithCode } from '../helpers/assert-code.js';
import { eventually, recordingContext } from '../helpers/discovery.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';

describe('DnsDiscovery against a real dnsmasq on loopback', () => {
  let dns: Dnsmasq;
  const started: DnsDiscovery[] = [];
  const discover = async (options: Omit<DnsDiscoveryOptions, 'servers'>, context = recordingContext()) => {
    const discovery = new DnsDiscovery({ servers: [dns.server], minRefreshInterval: 100, ...options });
    started.push(discovery);
    await discovery.start(context);
    return { discovery, context };
  };

  before(async () => {
    dns = await startDnsmasq(
      [
        '127.0.47.2 nodes.test',
        '127.0.47.3 nodes.test',
        '127.0.48.2 a.nodes.test',
        '127.0.48.3 b.nodes.test',
        'fd00::2 six.test',
        'fd00::3 six.test',
      ],
      ['_distcache._tcp.nodes.test,a.nodes.test,4001', '_distcache._tcp.nodes.test,b.nodes.test,4002'],
    );
  });
  after(async () => {
    await Promise.all(started.map((discovery) => discovery.stop()));
    await dns.close();
  });

  it('A records become host:port with the configured discovery port', async () => {
    const { discovery } = await discover({ name: 'nodes.test', port: 3400 });
    assert.deepEqual(await discovery.addresses(), ['127.0.47.2:3400', '127.0.47.3:3400']);
  });

  it('AAAA records become [ipv6]:port', async () => {
    const { discovery } = await discover({ name: 'six.test', type: 'AAAA' });
    assert.deepEqual(await discovery.addresses(), ['[fd00::2]:3322', '[fd00::3]:3322']);
  });

  it('SRV records carry their own ports, their targets resolved through the same server', async () => {
    const { discovery } = await discover({ name: '_distcache._tcp.nodes.test', type: 'SRV' });
    assert.deepEqual(await discovery.addresses(), ['127.0.48.2:4001', '127.0.48.3:4002']);
  });

  it('follows record changes after their TTL and tells the engine', async () => {
    const { discovery, context } = await discover({ name: 'moving.test' });
    await dns.setHosts(['127.0.49.2 moving.test', '127.0.49.3 moving.test']);
    await eventually(async () => (await discovery.addresses()).length === 2);
    const changesBefore = context.changes;
    await dns.setHosts(['127.0.49.2 moving.test', '127.0.49.4 moving.test']);
    await eventually(async () => (await discovery.addresses()).includes('127.0.49.4:3322'));
    assert.deepEqual(await discovery.addresses(), ['127.0.49.2:3322', '127.0.49.4:3322']);
    assert.ok(context.changes > changesBefore);
  });

  it('keeps the last good answer through NXDOMAIN and through a dead server, and warns once', async () => {
    await dns.setHosts(['127.0.50.2 outage.test']);
    const { discovery, context } = await discover({ name: 'outage.test' });
    assert.deepEqual(await discovery.addresses(), ['127.0.50.2:3322']);
    await dns.setHosts([]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.deepEqual(await discovery.addresses(), ['127.0.50.2:3322']);
    await dns.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.deepEqual(await discovery.addresses(), ['127.0.50.2:3322']);
    assert.equal(context.logged.filter((line) => line.level === 'warn').length, 1);
    await dns.start();
    await dns.setHosts(['127.0.50.3 outage.test']);
    await eventually(async () => (await discovery.addresses())[0] === '127.0.50.3:3322', 10_000);
  });

  it('an unknown name answers nothing instead of failing start()', async () => {
    const { discovery } = await discover({ name: 'unknown.test' });
    assert.deepEqual(await discovery.addresses(), []);
  });

  it('refuses bad options with ERR_INVALID_CONFIG', () => {
    const bad: unknown[] = [
      {},
      { name: 'bad name' },
      { name: 'ok.test', type: 'MX' },
      { name: 'ok.test', port: 0 },
      { name: 'ok.test', servers: [] },
      { name: 'ok.test', servers: ['dns.example.com'] },
      { name: 'ok.test', refreshInterval: -1 },
      { name: 'ok.test', minRefreshInterval: 5_000, refreshInterval: 1_000 },
    ];
    for (const options of bad)
      throwsWithCode(() => new DnsDiscovery(options as DnsDiscoveryOptions), ErrorCode.INVALID_CONFIG);
  });
});

describe('DnsDiscovery against a DNS server that answers garbage', () => {
  it('malformed answers never crash, never yield a bogus peer, and keep the last good answer', async () => {
    const server = createSocket('udp4');
    let reply: (query: Buffer) => Buffer = (query) => goodAnswer(query);
    server.on('message', (query, from) => server.send(reply(query), from.port, from.address));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const discovery = new DnsDiscovery({
      name: 'hostile.test',
      servers: [`127.0.0.1:${server.address().port}`],
      minRefreshInterval: 1,
      refreshInterval: 1,
      timeout: 200,
    });
    const context = recordingContext();
    await discovery.start(context);
    assert.deepEqual(await discovery.addresses(), ['127.0.51.2:3322']);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.nat({ max: 3 }), async (garbage, shape) => {
        reply = (query) => hostileAnswer(query, garbage, shape);
        await new Promise((resolve) => setTimeout(resolve, 3));
        const addresses = await discovery.addresses();
        assert.ok(
          addresses.every((address) => address === '127.0.51.2:3322' || /^\d+\.\d+\.\d+\.\d+:3322$/.test(address)),
          JSON.stringify(addresses),
        );
      }),
      { numRuns: 300 },
    );
    reply = (query) => goodAnswer(query);
    await eventually(async () => (await discovery.addresses())[0] === '127.0.51.2:3322');
    await discovery.stop();
    server.close();
  });
});

function goodAnswer(query: Buffer): Buffer {
  const { id, questions } = dnsPacket.decode(query);
  return dnsPacket.encode({
    id,
    type: 'response',
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    questions,
    answers: [{ type: 'A', name: 'hostile.test', ttl: 1, data: '127.0.51.2' }],
  });
}

/** Garbage as a whole reply, after a valid header, or after the query's id. */
function hostileAnswer(query: Buffer, garbage: Uint8Array, shape: number): Buffer {
  const valid = goodAnswer(query);
  switch (shape) {
    case 0:
      return Buffer.from(garbage);
    case 1:
      return Buffer.concat([query.subarray(0, 2), Buffer.from(garbage)]);
    case 2:
      return Buffer.concat([valid.subarray(0, 12), Buffer.from(garbage)]);
    default:
      return Buffer.concat([
        valid.subarray(0, Math.min(valid.length, 12 + (garbage.length % (valid.length - 11)))),
        Buffer.from(garbage),
      ]);
  }
}
