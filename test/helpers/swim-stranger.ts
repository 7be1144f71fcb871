/**
 * A stranger on the discovery port: a libp2p host of its own (no cluster key
 * unless given) that speaks the SWIM protocol's framing to a node, with any
 * bytes or messages it likes.
 */
import { createHost, toMultiaddr, type Libp2pHost } from '../../src/cluster/libp2p-host.js';
import { encodeSwimMessage } from '../../src/cluster/swim/codec.js';
import { frame } from '../../src/cluster/swim/frames.js';
import type { SwimMessage } from '../../src/cluster/swim/messages.js';
import { SWIM_PROTOCOL } from '../../src/cluster/swim-transport.js';

export class SwimStranger {
  readonly #host: Libp2pHost;

  private constructor(host: Libp2pHost) {
    this.#host = host;
  }

  /** A host listening on `ip` (any port), with `clusterKey` when given. */
  static async start(ip: string, clusterKey?: string): Promise<SwimStranger> {
    return new SwimStranger(await createHost(ip, 0, clusterKey));
  }

  /** Sends each of `payloads` as one length-prefixed frame on one new stream to `address` (`host:port`), then ends it. */
  sendFrames(address: string, payloads: readonly Uint8Array[]): Promise<void> {
    return this.sendBytes(address, Buffer.concat(payloads.map(frame)), 64 * 1024);
  }

  /** Sends `bytes` on one new stream to `address`, `chunkBytes` per write (each a muxer frame of its own), then ends it. */
  async sendBytes(address: string, bytes: Uint8Array, chunkBytes: number): Promise<void> {
    const stream = await this.#host.dialProtocol(toMultiaddr(address), SWIM_PROTOCOL, {
      signal: AbortSignal.timeout(5_000),
    });
    await stream.sink(
      (function* () {
        for (let at = 0; at < bytes.byteLength; at += chunkBytes) yield bytes.subarray(at, at + chunkBytes);
      })(),
    );
  }

  /** Sends SWIM messages, encoded as a node would. */
  send(address: string, messages: readonly SwimMessage[]): Promise<void> {
    return this.sendFrames(address, messages.map(encodeSwimMessage));
  }

  async stop(): Promise<void> {
    await this.#host.stop();
  }
}
