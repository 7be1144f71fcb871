/**
 * Finds the addresses that might be peers of this node. Membership does the
 * rest (who is alive, who owns what): a provider only answers "where could
 * peers be", and is asked again while the engine runs so a partitioned node
 * heals. One file a provider under `distcache/discovery/<name>`.
 */
export interface DiscoveryProvider {
  /** Short name for logs and errors, e.g. `"dns"`. */
  readonly name: string;
  /** Prepares the provider (connections, watches); called by `engine.start()`. */
  start(): Promise<void>;
  /** Releases everything `start()` acquired; called by `engine.stop()`. */
  stop(): Promise<void>;
  /** Discovery addresses (`host:port`) of possible peers, this node's own included or not. */
  addresses(): Promise<string[]>;
}
