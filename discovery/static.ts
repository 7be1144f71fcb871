import { z } from 'zod';
import { isDiscoveryAddress, type DiscoveryProvider } from '../src/discovery.js';
import { parseOptions } from '../src/validate.js';

/** Options of {@link StaticDiscovery}. */
export interface StaticDiscoveryOptions {
  /** Discovery addresses (`host:port`, the nodes' discoveryPort) of the cluster's nodes; this node's own may be listed. */
  peers: string[];
}

const staticOptionsSchema = z.strictObject({
  peers: z
    .array(z.string().refine(isDiscoveryAddress, 'must be "host:port"'))
    .min(1, 'must list at least one "host:port"'),
});

/**
 * A fixed list of peers, for clusters whose addresses are known in advance
 * (and for tests). Nodes that are down when listed are dialled again on
 * every re-poll, so they join whenever they come up.
 */
export class StaticDiscovery implements DiscoveryProvider {
  readonly name = 'static';
  readonly #peers: readonly string[];

  constructor(options: StaticDiscoveryOptions) {
    this.#peers = parseOptions(staticOptionsSchema, options, 'StaticDiscovery options').peers;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async addresses(): Promise<string[]> {
    return [...this.#peers];
  }
}
