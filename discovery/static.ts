import { isDiscoveryAddress, type DiscoveryProvider } from '../src/discovery.js';
import { DistCacheError, ErrorCode } from '../src/errors.js';

/** Options of {@link StaticDiscovery}. */
export interface StaticDiscoveryOptions {
  /** Discovery addresses (`host:port`, the nodes' discoveryPort) of the cluster's nodes; this node's own may be listed. */
  peers: string[];
}

/**
 * A fixed list of peers, for clusters whose addresses are known in advance
 * (and for tests). Nodes that are down when listed are dialled again on
 * every re-poll, so they join whenever they come up.
 */
export class StaticDiscovery implements DiscoveryProvider {
  readonly name = 'static';
  readonly #peers: readonly string[];

  constructor(options: StaticDiscoveryOptions) {
    if (!Array.isArray(options?.peers) || options.peers.length === 0) {
      throw new DistCacheError(ErrorCode.INVALID_CONFIG, 'StaticDiscovery: peers must be a non-empty array of "host:port" strings');
    }
    for (const peer of options.peers) {
      if (!isDiscoveryAddress(peer)) throw new DistCacheError(ErrorCode.INVALID_CONFIG, `StaticDiscovery: peer ${JSON.stringify(peer)} is not "host:port"`);
    }
    this.#peers = [...options.peers];
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async addresses(): Promise<string[]> {
    return [...this.#peers];
  }
}
