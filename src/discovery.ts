import { isIP } from 'node:net';
import type { Logger } from './logger.js';
import { splitHostPort } from './net/host-port.js';

/**
 * Finds the addresses that might be peers of this node. Membership does the
 * rest (who is alive, who owns what): a provider only answers "where could
 * peers be", and is asked again while the engine runs so a partitioned node
 * heals. One file a provider under `distcache/discovery/<name>`.
 */
export interface DiscoveryProvider {
  /** Short name for logs and errors, e.g. `"dns"`. */
  readonly name: string;
  /**
   * Prepares the provider (connections, watches); called by `engine.start()`.
   * Should not fail because the backing service is down: log through
   * `context.logger`, retry, and answer what is known meanwhile.
   */
  start(context: DiscoveryContext): Promise<void>;
  /** Releases everything `start()` acquired; called by `engine.stop()`. */
  stop(): Promise<void>;
  /** Discovery addresses (`host:port`) of possible peers, this node's own included or not. */
  addresses(): Promise<string[]>;
}

/** What the engine hands a provider at start. */
export interface DiscoveryContext {
  /** This node's own discovery address (`host:port`), for providers that announce it. */
  readonly self: string;
  /** The engine's logger. */
  readonly logger: Logger;
  /** Call when the addresses changed (a watch event, an announcement): the engine dials them at once instead of at its next re-poll. */
  changed(): void;
}

/** Whether `value` is a discovery address: `host:port` or `[ipv6]:port`, with a port in 1..65535 and a host that can be dialled (not 0.0.0.0 or ::). */
export function isDiscoveryAddress(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 260) return false;
  const { host, port, bracketed } = splitHostPort(value);
  const validHost = bracketed ? isIP(host) === 6 : isIP(host) === 4 || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(host);
  const unspecified = host === '0.0.0.0' || host === '::';
  return validHost && !unspecified && port > 0 && port < 65_536;
}

/** `host:port` for an address and a port, bracketing IPv6 addresses. */
export function discoveryAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
