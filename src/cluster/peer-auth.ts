import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { NONCE_BYTES } from './peer-codec.js';

/**
 * The peer handshake's proof of the cluster key: each side sends a random
 * nonce and the other answers HMAC-SHA256(clusterKey, nonce). Without a
 * cluster key both sides use an empty key, so a node with a key and a node
 * without one never accept each other. The key itself never travels.
 */
export class ClusterKeyProof {
  readonly #key: Buffer;

  constructor(clusterKey: string | undefined) {
    this.#key = Buffer.from(clusterKey ?? '', 'utf8');
  }

  /** A fresh nonce to challenge the other side with. */
  nonce(): Uint8Array {
    return randomBytes(NONCE_BYTES);
  }

  /** The answer to the other side's challenge. */
  prove(nonce: Uint8Array): Uint8Array {
    return createHmac('sha256', this.#key).update(nonce).digest();
  }

  /** Whether `proof` answers our `nonce`. */
  verify(nonce: Uint8Array, proof: Uint8Array): boolean {
    const expected = this.prove(nonce);
    return proof.byteLength === expected.byteLength && timingSafeEqual(proof, expected);
  }
}
