import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StaticDiscovery } from '../../discovery/static.js';
import { Engine, ErrorCode, type EngineOptions, type KeyspaceOptions } from '../../src/index.js';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { encodeAddRequest, Operation, Status } from '../../src/protocol/codec.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { bytes, silentLogger, sleep, text } from '../helpers/engine.js';

const A = '127.0.81.2';
const B = '127.0.81.3';
const PEERS = [`${A}:3322`, `${B}:3322`];
const TOKEN = 'admin-token-0123456789';

function node(ip: string, keyspaces: KeyspaceOptions[], options: Partial<EngineOptions> = {}): Engine {
  return new Engine({
    logger: silentLogger,
    bindAddr: ip,
    discovery: new StaticDiscovery({ peers: PEERS }),
    minimumPeersQuorum: 2,
    keyspaces,
    ...options,
  });
}

/** Waits until both engines admit each other. */
async function converge(engines: Engine[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (
      engines.every((engine) => engine.peers().filter((peer) => peer.admitted && peer.state === 'alive').length === 2)
    )
      return;
    await sleep(50);
  }
  throw new Error('the two nodes did not converge');
}

/** `count` keys of `keyspace` whose owner is `owner`. */
function keysOwnedBy(engine: Engine, keyspace: string, owner: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++)
    if (engine.owners(keyspace, `key-${i}`)[0] === `${owner}:3320`) keys.push(`key-${i}`);
  return keys;
}

describe('a two-node cluster answers truthfully', () => {
  let a: Engine;
  let b: Engine;
  before(async () => {
    // B holds less than A (a digest mismatch the admin API would report): A learns what B refuses.
    a = node(A, [{ name: 'ks', maxBytes: 1 << 20 }], {
      admin: { listen: `${A}:0`, token: TOKEN },
      sessionCache: { listen: [`IP:${A}:4860`] },
    });
    b = node(B, [
      { name: 'ks', maxBytes: 8 * 1024 },
      { name: 'ssl-sessions', maxBytes: 1 << 20 },
    ]);
    await Promise.all([a.start(), b.start()]);
    await converge([a, b]);
  });
  after(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  it('empties a keyspace on every node, hot copies included, with clearKeySpace and DELETE /keyspaces/:name/keys', async () => {
    const keys = [...keysOwnedBy(a, 'ks', A, 5), ...keysOwnedBy(a, 'ks', B, 5)];
    for (const via of ['engine', 'admin'] as const) {
      for (const key of keys) await a.put('ks', { key, value: bytes(`v:${key}`) });
      // Reads on both nodes leave hot copies of the other node's keys.
      for (const engine of [a, b])
        for (const key of keys) assert.equal(text((await engine.get('ks', key))?.value), `v:${key}`);
      assert.ok(a.stats('ks').entries > 0 && b.stats('ks').entries > 0);
      if (via === 'engine') await b.clearKeySpace('ks');
      else {
        const response = await fetch(`${a.adminUrl()}/keyspaces/ks/keys`, {
          method: 'DELETE',
          headers: { authorization: `bearer ${TOKEN}` },
        });
        assert.equal(response.status, 200);
      }
      assert.deepEqual([a.stats('ks').entries, b.stats('ks').entries], [0, 0], via);
      for (const engine of [a, b])
        for (const key of keys) assert.equal(await engine.get('ks', key), undefined, `${via}: ${key} is gone`);
    }
    assert.deepEqual(a.keySpaces().sort(), ['ks', 'ssl-sessions'], 'the keyspaces remain');
  });

  it("rejects a put the owner cannot hold (a value larger than the owner's keyspace) instead of resolving true", async () => {
    const [onB] = keysOwnedBy(a, 'ks', B, 1);
    const error = await rejectsWithCode(
      a.put('ks', { key: onB!, value: new Uint8Array(16 * 1024) }),
      ErrorCode.INVALID_ARGUMENT,
    );
    assert.match(error.message, /exceeds keyspace "ks"/);
    assert.equal(await a.get('ks', onB!), undefined);
  });

  it('refuses keys with lone surrogates, which would reach the owner as U+FFFD and meet other keys', async () => {
    const [onB] = keysOwnedBy(a, 'ks', B, 1);
    await rejectsWithCode(a.put('ks', { key: `${onB}\uD800`, value: bytes('first') }), ErrorCode.INVALID_ARGUMENT);
    await rejectsWithCode(a.get('ks', `${onB}\uDFFF`), ErrorCode.INVALID_ARGUMENT);
    await rejectsWithCode(a.delete('ks', `${onB}\uDBFF`), ErrorCode.INVALID_ARGUMENT);
  });

  it('a node does not drop the keyspace its session listener serves when another node deletes it', async () => {
    const client = new DcClient(parseSessionAddress(`IP:${A}:4860`));
    try {
      // An id whose session A owns, so A answers for it alone.
      let id = Buffer.alloc(0);
      for (let i = 0; ; i++) {
        id = Buffer.from(`session-${i}`);
        if (a.owners('ssl-sessions', id.toString('hex'))[0] === `${A}:3320`) break;
      }
      const refused = await rejectsWithCode(b.deleteKeySpace('ssl-sessions'), ErrorCode.KEYSPACE_IN_USE);
      assert.match(refused.message, /except on 127\.0\.81\.2:3320/);
      assert.deepEqual(b.keySpaces(), ['ks'], 'B dropped its own');
      assert.ok(a.keySpaces().includes('ssl-sessions'), 'A keeps the keyspace it serves');
      assert.deepEqual(
        [...(await client.request(Operation.ADD, encodeAddRequest(60_000, id, Buffer.from('s')))).data],
        [Status.OK],
        'A stores sessions, not DISCONNECTED',
      );
      assert.deepEqual([...(await client.request(Operation.GET, id)).data], [...Buffer.from('s')]);
    } finally {
      client.close();
    }
  });
});
