import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Engine, ErrorCode } from '../../src/index.js';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { encodeAddRequest, Operation, Status } from '../../src/protocol/codec.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { silentLogger } from '../helpers/engine.js';

const TOKEN = 'admin-token-0123456789';
const SESSIONS = 'IP:127.0.80.50:4850';

describe('the keyspace the session listener serves', () => {
  let engine: Engine;
  let client: DcClient;
  let admin: string;
  before(async () => {
    engine = new Engine({
      logger: silentLogger,
      keyspaces: [],
      sessionCache: { listen: [SESSIONS], maxBytes: 16 * 1024 },
      admin: { listen: '127.0.80.50:0', token: TOKEN },
    });
    await engine.start();
    admin = engine.adminUrl()!;
    client = new DcClient(parseSessionAddress(SESSIONS));
  });
  after(async () => {
    client.close();
    await engine.stop();
  });

  const add = async (id: string, session = Buffer.from('session')) =>
    (await client.request(Operation.ADD, encodeAddRequest(60_000, Buffer.from(id), session))).data[0];
  const get = async (id: string) => Buffer.from((await client.request(Operation.GET, Buffer.from(id))).data);
  const call = async (method: string, path: string, token: string | null = TOKEN) => {
    const response = await fetch(admin + path, {
      method,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    return {
      status: response.status,
      body: (await response.json()) as { error?: { code: string }; [field: string]: unknown },
    };
  };

  it('cannot be deleted: DELETE /keyspaces/ssl-sessions answers 409 ERR_KEYSPACE_IN_USE, and sessions are still served', async () => {
    assert.equal(await add('before-delete'), Status.OK);
    const refused = await call('DELETE', '/keyspaces/ssl-sessions');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error?.code, ErrorCode.KEYSPACE_IN_USE);
    await rejectsWithCode(engine.deleteKeySpace('ssl-sessions'), ErrorCode.KEYSPACE_IN_USE);
    await rejectsWithCode(engine.deleteKeySpaces(['ssl-sessions']), ErrorCode.KEYSPACE_IN_USE);
    assert.equal((await get('before-delete')).toString(), 'session', 'the session is still there');
    assert.equal(await add('after-delete'), Status.OK, 'and new ones are stored');
    assert.equal((await call('GET', '/ready')).status, 200);
  });

  it('is emptied by DELETE /keyspaces/ssl-sessions/keys (with the token), and keeps serving', async () => {
    assert.equal(await add('to-flush'), Status.OK);
    assert.equal((await call('DELETE', '/keyspaces/ssl-sessions/keys', null)).status, 401);
    assert.equal((await get('to-flush')).toString(), 'session', 'no token, no flush');
    const flushed = await call('DELETE', '/keyspaces/ssl-sessions/keys');
    assert.equal(flushed.status, 200);
    assert.deepEqual(flushed.body, { keyspace: 'ssl-sessions', cleared: true });
    assert.deepEqual([...(await get('to-flush'))], [Status.NOTOK]);
    assert.equal(engine.stats('ssl-sessions').entries, 0);
    assert.equal(await add('to-flush'), Status.OK, 'the id is free again');
    assert.equal((await call('GET', '/keyspaces/ssl-sessions/keys')).status, 405);
    assert.equal((await call('DELETE', '/keyspaces/missing/keys')).status, 404);
  });

  it('answers an ADD of a session larger than the keyspace with DATA_RANGE (104), not OK', async () => {
    assert.equal(await add('too-big', Buffer.alloc(20_000, 1)), Status.DATA_RANGE);
    assert.deepEqual([...(await get('too-big'))], [Status.NOTOK]);
  });
});
