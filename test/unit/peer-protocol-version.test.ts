import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { ClusterKeyProof } from '../../src/cluster/peer-auth.js';
import { PeerClient } from '../../src/cluster/peer-client.js';
import {
  MessageType,
  NONCE_BYTES,
  PEER_PROTOCOL_VERSION,
  PeerMessageDecoder,
  encodePeerMessage,
} from '../../src/cluster/peer-codec.js';
import { PeerServer, type PeerRequestHandler } from '../../src/cluster/peer-server.js';
import type { Logger } from '../../src/index.js';

/**
 * Protocol version 3 carries entry versions; a node of an older version
 * (whose writes carry none) is refused at the HELLO on both sides, with the
 * reason logged, rather than admitted and then failing on messages it
 * cannot read.
 */

const unused = () => assert.fail('no request reaches the handler');
const handler: PeerRequestHandler = {
  get: unused,
  put: unused,
  delete: unused,
  deleteKeyspace: unused,
  clearKeyspace: unused,
  invalidate: unused,
  peek: unused,
  merge: unused,
  sync: unused,
};

function capturingLogger(): { logger: Logger; warnings: { fields: object; message?: string }[] } {
  const warnings: { fields: object; message?: string }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (fields, message) => warnings.push({ fields, message }),
    error() {},
  };
  return { logger, warnings };
}

describe('peer protocol version 3', () => {
  it('is the version this node speaks', () => assert.equal(PEER_PROTOCOL_VERSION, 3));

  it('a node speaking version 1 is refused by the server, which logs why', async () => {
    const { logger, warnings } = capturingLogger();
    const server = new PeerServer(handler, new ClusterKeyProof(undefined), logger, undefined);
    await server.listen('127.0.135.2', 3320);
    const socket = net.connect(3320, '127.0.135.2');
    try {
      await once(socket, 'connect');
      const hello = { type: MessageType.HELLO, requestId: 0, version: 1, nonce: new Uint8Array(NONCE_BYTES) };
      socket.write(encodePeerMessage(hello));
      const replies: unknown[] = [];
      const decoder = new PeerMessageDecoder();
      socket.on('data', (chunk: Buffer) => replies.push(...decoder.push(chunk)));
      await once(socket, 'close');
      assert.deepEqual(replies, [], 'no HELLO_REPLY: the handshake ends at once');
      const refusal = warnings.find((warning) => warning.message === 'peer connection refused');
      assert.match(String((refusal?.fields as { why?: string })?.why), /protocol version 1; this node speaks 3 only/);
    } finally {
      socket.destroy();
      await server.close(1_000);
    }
  });

  it('a client refuses a server that answers with version 1, with the reason in its error', async () => {
    const proof = new ClusterKeyProof(undefined);
    const oldServer = net.createServer((socket) => {
      const decoder = new PeerMessageDecoder();
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        for (const message of decoder.push(chunk)) {
          if (message.type !== MessageType.HELLO) continue;
          socket.write(
            encodePeerMessage({
              type: MessageType.HELLO_REPLY,
              requestId: 0,
              version: 1,
              nonce: proof.nonce(),
              proof: proof.prove(message.nonce),
            }),
          );
        }
      });
    });
    oldServer.listen(3320, '127.0.135.3');
    await once(oldServer, 'listening');
    const client = new PeerClient('127.0.135.3:3320', proof, undefined);
    try {
      await assert.rejects(client.verify(), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ERR_PEER_UNAVAILABLE');
        assert.match(error.message, /peer speaks protocol version 1; this node speaks 3 only/);
        return true;
      });
    } finally {
      client.close();
      oldServer.close();
    }
  });
});
