import { networkInterfaces } from 'node:os';
import { discoveryAddress } from '../discovery.js';
import type { Member } from './membership.js';
import type { ClusterConfig } from './settings.js';

/** A member as `engine.peers()` and `GET /peers` report it. */
export interface PeerInfo extends Member {
  /** True for this node. */
  readonly self: boolean;
  /** True when its keyspace definitions differ from this node's. */
  readonly digestMismatch: boolean;
  /** True when it takes part in placement: alive and its peer port passed the handshake. */
  readonly admitted: boolean;
}

/** This node's addresses as other members know it. */
export interface SelfAddress {
  /** The peer address `host:bindPort`: the node's id. */
  readonly id: string;
  readonly host: string;
  /** `host:discoveryPort`. */
  readonly discoveryAddress: string;
}

/** The node's addresses: on `bindAddr`, or on the first external IPv4 address when bound to 0.0.0.0. */
export function selfAddress(config: Pick<ClusterConfig, 'bindAddr' | 'bindPort' | 'discoveryPort'>): SelfAddress {
  const host = config.bindAddr === '0.0.0.0' ? firstExternalIpv4() : config.bindAddr;
  return { id: `${host}:${config.bindPort}`, host, discoveryAddress: discoveryAddress(host, config.discoveryPort) };
}

/** This node as its own member list shows it: alive, admitted, agreeing with itself, seen now. */
export function selfPeerInfo(
  address: Pick<SelfAddress, 'id' | 'discoveryAddress'>,
  incarnation: number,
  digest: string,
): PeerInfo {
  return {
    id: address.id,
    discoveryAddress: address.discoveryAddress,
    incarnation,
    state: 'alive',
    digest,
    lastSeen: Date.now(),
    self: true,
    digestMismatch: false,
    admitted: true,
  };
}

function firstExternalIpv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return '127.0.0.1';
}
