import { isIP } from 'node:net';
import { DistCacheError, ErrorCode } from '../errors.js';

/** A listen or connect address in the C tools' syntax. */
export type SessionAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string | undefined; readonly port: number };

/**
 * Parses `UNIX:/path/to/socket`, `IP:port` (all interfaces) or
 * `IP:host:port`; throws ERR_INVALID_CONFIG naming the bad address.
 */
export function parseSessionAddress(text: string): SessionAddress {
  const bad = (why: string) =>
    new DistCacheError(
      ErrorCode.INVALID_CONFIG,
      `address ${JSON.stringify(text)}: ${why}; use UNIX:/path, IP:port or IP:host:port`,
    );
  if (typeof text !== 'string') throw bad('not a string');
  if (text.startsWith('UNIX:')) {
    const path = text.slice(5);
    if (!path.startsWith('/') || path.length > 107)
      throw bad('a UNIX socket needs an absolute path of at most 107 characters');
    return { kind: 'unix', path };
  }
  if (!text.startsWith('IP:')) throw bad('unknown scheme');
  const rest = text.slice(3);
  const split = rest.lastIndexOf(':');
  const portText = split < 0 ? rest : rest.slice(split + 1);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65_535)
    throw bad(`port ${JSON.stringify(portText)} is not 1-65535`);
  if (split < 0) return { kind: 'tcp', host: undefined, port };
  const host = rest.slice(0, split).replace(/^\[|\]$/g, '');
  if (!(isIP(host) !== 0 || /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(host)))
    throw bad(`host ${JSON.stringify(host)} is not an IP address or host name`);
  return { kind: 'tcp', host, port };
}

/** The address back in the C tools' syntax. */
export function formatSessionAddress(address: SessionAddress): string {
  if (address.kind === 'unix') return `UNIX:${address.path}`;
  return address.host === undefined ? `IP:${address.port}` : `IP:${address.host}:${address.port}`;
}

/** Socket connect options for an address (a TCP address without host means this machine). */
export function connectOptions(address: SessionAddress): { path: string } | { host: string; port: number } {
  return address.kind === 'unix' ? { path: address.path } : { host: address.host ?? '127.0.0.1', port: address.port };
}
