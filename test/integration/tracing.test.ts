import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { StaticDiscovery } from '../../discovery/static.js';
import { Engine } from '../../src/index.js';
import { activeTracer } from '../../src/observability/tracing.js';
import { countingSource, silentLogger, sleep, startEngine } from '../helpers/engine.js';

const exporter = new InMemorySpanExporter();
const named = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.name === name);

describe('OpenTelemetry spans, with the SDK and its in-memory exporter', () => {
  before(() => {
    assert.equal(activeTracer(), undefined, 'no tracer before a provider is registered');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  });
  after(() => {
    trace.disable();
    context.disable();
  });

  it('a get creates a span with its keyspace and outcome; a miss has a load span inside it', async () => {
    const engine = await startEngine({ dataSource: countingSource() });
    exporter.reset();
    await engine.get('ks', 'a');
    await engine.get('ks', 'a');
    await engine.stop();
    const gets = named('distcache.get');
    assert.deepEqual(
      gets.map((span) => [span.attributes['distcache.keyspace'], span.attributes['distcache.outcome']]),
      [
        ['ks', 'miss'],
        ['ks', 'hit'],
      ],
    );
    const [load] = named('distcache.load');
    assert.equal(load?.attributes['distcache.outcome'], 'found');
    assert.equal(load?.parentSpanContext?.spanId, gets[0]!.spanContext().spanId, 'the load is a child of the get');
  });

  it('a failed load ends its spans with the error code and an error status', async () => {
    const engine = await startEngine({ dataSource: { fetch: async () => Promise.reject(new Error('database down')) } });
    exporter.reset();
    await engine.get('ks', 'a').catch(() => undefined);
    await engine.stop();
    const [get] = named('distcache.get');
    assert.equal(get?.attributes['distcache.outcome'], 'ERR_DATASOURCE_FAILED');
    assert.equal(get?.status.code, 2);
  });

  it('a get on a non-owner carries the owner, with a peer request span to it', async () => {
    const peers = ['127.0.65.2:3322', '127.0.65.3:3322'];
    const nodes = ['127.0.65.2', '127.0.65.3'].map(
      (ip) =>
        new Engine({
          logger: silentLogger,
          bindAddr: ip,
          discovery: new StaticDiscovery({ peers }),
          keyspaces: [{ name: 'ks', maxBytes: 1 << 20, hotCache: false, dataSource: countingSource() }],
        }),
    );
    await Promise.all(nodes.map((node) => node.start()));
    try {
      while (!nodes.every((node) => node.peers().filter((peer) => peer.admitted).length === 2)) await sleep(50);
      const [a] = nodes;
      const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find(
        (candidate) => a!.owners('ks', candidate)[0] !== '127.0.65.2:3320',
      )!;
      exporter.reset();
      await a!.get('ks', key);
      const get = named('distcache.get').find((span) => span.attributes['distcache.owner'] === '127.0.65.3:3320');
      assert.ok(get, 'the get names its owner');
      const peer = named('distcache.peer').find((span) => span.attributes['distcache.peer'] === '127.0.65.3:3320');
      assert.equal(peer?.attributes['distcache.message'], 'GET');
      assert.equal(peer?.attributes['distcache.outcome'], 'ok');
      assert.equal(peer?.parentSpanContext?.spanId, get!.spanContext().spanId);
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
    }
  });
});
