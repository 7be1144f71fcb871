import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rollingRestart } from '../helpers/rolling-restart.js';

describe('rolling restart of a 5-node cluster under gets and puts (real processes)', () => {
  it('restarting every node in turn fails no get, loses no acknowledged write (replicaCount 2), and reloads at most 10% of the hot keys', async () => {
    const report = await rollingRestart({
      ipPrefix: '127.0.140',
      servers: 5,
      hotKeys: 1_000,
      writtenKeys: 200,
      concurrency: 16,
      putShare: 0.1,
    });
    assert.ok(report.gets > 1_000 && report.puts > 100, `the load ran: ${report.gets} gets, ${report.puts} puts`);
    assert.deepEqual(report.failedGets.slice(0, 5), [], `${report.failedGets.length} failed gets`);
    assert.deepEqual(report.lostWrites.slice(0, 5), [], `${report.lostWrites.length} lost writes`);
    assert.ok(
      report.hotKeyLoads <= report.hotKeys * 0.1,
      `the data source was asked ${report.hotKeyLoads} times for ${report.hotKeys} hot keys`,
    );
  });
});
