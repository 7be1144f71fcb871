import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageType, PeerMessageDecoder, encodePeerMessage, type PeerMessage } from '../../src/cluster/peer-codec.js';
import {
  ClientHandshake,
  PEER_PROTOCOL_VERSIONS,
  ServerHandshake,
  highestCommonVersion,
  localVersions,
  type VersionRange,
} from '../../src/cluster/peer-handshake.js';
import { ErrorCode } from '../../src/index.js';

const SELF = '10.0.0.2:3320';

/** Runs both halves against each other through the codec, as two nodes would over a connection. */
function shake(clientVersions: VersionRange, serverVersions: VersionRange, target = SELF) {
  const client = new ClientHandshake(clientVersions, target);
  const server = new ServerHandshake(serverVersions, SELF);
  const [hello] = new PeerMessageDecoder().push(encodePeerMessage(client.hello()));
  const { reply, verdict: serverVerdict } = server.receive(hello!);
  const [answer] = new PeerMessageDecoder().push(encodePeerMessage(reply));
  return { serverVerdict, clientVerdict: client.receive(answer!), reply: answer! };
}

describe('peer handshake', () => {
  it('picks the highest version both ranges hold', () => {
    assert.equal(highestCommonVersion({ min: 1, max: 2 }, { min: 1, max: 1 }), 1);
    assert.equal(highestCommonVersion({ min: 1, max: 2 }, { min: 2, max: 5 }), 2);
    assert.equal(highestCommonVersion({ min: 3, max: 7 }, { min: 1, max: 9 }), 7);
    assert.equal(highestCommonVersion({ min: 1, max: 1 }, { min: 2, max: 2 }), undefined);
  });

  it('a node speaking N-1 and a node speaking N..N-1 agree on N-1, both sides', () => {
    const { serverVerdict, clientVerdict } = shake({ min: 1, max: 1 }, { min: 1, max: 2 });
    assert.deepEqual(serverVerdict, { accepted: true, version: 1 });
    assert.deepEqual(clientVerdict, { accepted: true, version: 1 });
    assert.deepEqual(shake({ min: 1, max: 2 }, { min: 1, max: 1 }).clientVerdict, { accepted: true, version: 1 });
    assert.deepEqual(shake(PEER_PROTOCOL_VERSIONS, PEER_PROTOCOL_VERSIONS).clientVerdict, {
      accepted: true,
      version: PEER_PROTOCOL_VERSIONS.max,
    });
  });

  it('refuses ranges without a common version, telling both sides why', () => {
    const { serverVerdict, clientVerdict, reply } = shake({ min: 2, max: 2 }, { min: 1, max: 1 });
    assert.equal(serverVerdict.accepted, false);
    assert.match(!serverVerdict.accepted ? serverVerdict.reason : '', /this node speaks 1\.\.1, the peer 2\.\.2/);
    assert.equal(reply.type === MessageType.ERROR && reply.code, ErrorCode.PROTOCOL);
    assert.equal(clientVerdict.accepted, false);
    assert.match(!clientVerdict.accepted ? clientVerdict.reason : '', /refused.*no common peer protocol version/);
  });

  it('refuses a connection meant for another node (a reflected or redirected connection)', () => {
    const { serverVerdict, clientVerdict } = shake(PEER_PROTOCOL_VERSIONS, PEER_PROTOCOL_VERSIONS, '10.0.0.3:3320');
    assert.equal(serverVerdict.accepted, false);
    assert.match(!serverVerdict.accepted ? serverVerdict.reason : '', /meant for "10\.0\.0\.3:3320"/);
    assert.equal(clientVerdict.accepted, false);
  });

  it('the server refuses anything but a HELLO first, and an empty range', () => {
    const server = () => new ServerHandshake(PEER_PROTOCOL_VERSIONS, SELF);
    const get: PeerMessage = { type: MessageType.GET, requestId: 1, keyspace: 'ks', key: 'k' };
    assert.equal(server().receive(get).verdict.accepted, false);
    const empty: PeerMessage = { type: MessageType.HELLO, requestId: 0, minVersion: 2, maxVersion: 1, target: SELF };
    assert.equal(server().receive(empty).verdict.accepted, false);
  });

  it('the client refuses a version outside its range and anything but WELCOME or ERROR', () => {
    const client = () => new ClientHandshake({ min: 1, max: 1 }, SELF);
    assert.equal(client().receive({ type: MessageType.WELCOME, requestId: 0, version: 2 }).accepted, false);
    assert.equal(client().receive({ type: MessageType.OK, requestId: 0, flag: true }).accepted, false);
  });

  it('decides once: a second message is a protocol error, not a second verdict', () => {
    const server = new ServerHandshake(PEER_PROTOCOL_VERSIONS, SELF);
    const hello = new ClientHandshake(PEER_PROTOCOL_VERSIONS, SELF).hello() as PeerMessage;
    server.receive(hello);
    assert.throws(() => server.receive(hello), { code: ErrorCode.PROTOCOL });
  });

  it('DISTCACHE_TEST_PEER_PROTOCOL narrows the range, and refuses one this build does not speak', () => {
    assert.deepEqual(localVersions({}), PEER_PROTOCOL_VERSIONS);
    assert.deepEqual(localVersions({ DISTCACHE_TEST_PEER_PROTOCOL: '2..2' }), { min: 2, max: 2 });
    assert.deepEqual(localVersions({ DISTCACHE_TEST_PEER_PROTOCOL: '2' }), { min: 2, max: 2 });
    for (const bad of ['0..1', '1..1', '1..9', '3..2', 'one', '1..'])
      assert.throws(() => localVersions({ DISTCACHE_TEST_PEER_PROTOCOL: bad }), { code: ErrorCode.INVALID_CONFIG });
  });
});
