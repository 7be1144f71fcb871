/** A `host:port` address split at its last colon. */
export interface HostPort {
  /** The host, without the brackets of `[ipv6]:port`. */
  readonly host: string;
  /** The port, NaN when missing or not 1 to 5 digits. */
  readonly port: number;
  /** Whether the host was written in brackets (`[::1]:3322`), as an IPv6 address must be. */
  readonly bracketed: boolean;
}

/** Splits `host:port` or `[ipv6]:port`; no colon gives the whole text as host and a NaN port. */
export function splitHostPort(address: string): HostPort {
  const split = address.lastIndexOf(':');
  const rawHost = split < 0 ? address : address.slice(0, split);
  const portText = split < 0 ? '' : address.slice(split + 1);
  const bracketed = rawHost.startsWith('[') && rawHost.endsWith(']');
  return {
    host: bracketed ? rawHost.slice(1, -1) : rawHost,
    port: /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN,
    bracketed,
  };
}
