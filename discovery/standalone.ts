import type { DiscoveryProvider } from '../src/discovery.js';

/**
 * No peers: the node is a cluster of one. The engine's default, for local
 * development and single-process services.
 */
export class StandaloneDiscovery implements DiscoveryProvider {
  readonly name = 'standalone';

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async addresses(): Promise<string[]> {
    return [];
  }
}
