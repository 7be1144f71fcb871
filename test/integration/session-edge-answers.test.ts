import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Engine } from '../../src/index.js';
import { silentLogger } from '../helpers/engine.js';
import { EDGE_CASES } from '../helpers/session-edge-cases.js';
import { exchange } from '../helpers/session-exchange.js';

// The same cases run against dc_server itself in test/interop (npm run test:interop).
const ADDRESS = 'IP:127.0.98.1:9198';

describe('the session listener answers the edge cases as dc_server does, byte for byte', () => {
  let engine: Engine;
  before(async () => {
    engine = new Engine({ logger: silentLogger, keyspaces: [], sessionCache: { listen: [ADDRESS] } });
    await engine.start();
  });
  after(async () => {
    await engine.stop();
  });

  for (const edge of EDGE_CASES) {
    it(edge.name, async () => {
      assert.deepEqual(await exchange(ADDRESS, edge.requests, { pipelined: edge.pipelined }), edge.expected);
    });
  }
});
