import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

/** A DNS server on loopback, and how to stop it. */
export interface LocalDnsServer {
  /** `127.0.0.1:port`, for DnsDiscovery's `servers`. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A tiny authoritative DNS server for the example: answers A queries for the
 * names in `records` (name → IPv4 addresses) and NXDOMAIN for anything else.
 * Built on `dns-packet`, so the example needs no system package; the tests
 * use a real dnsmasq instead.
 */
export async function startLocalDnsServer(records: Record<string, string[]>, ttlSeconds = 5): Promise<LocalDnsServer> {
  const socket = createSocket('udp4');
  socket.on('message', (query, from) => {
    let request: dnsPacket.Packet;
    try {
      request = dnsPacket.decode(query);
    } catch {
      return;
    }
    const question = request.questions?.[0];
    const addresses = question?.type === 'A' ? records[question.name.toLowerCase()] : undefined;
    const reply = dnsPacket.encode({
      id: request.id,
      type: 'response',
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (addresses || !question ? 0 : 3), // rcode 3: NXDOMAIN
      questions: request.questions,
      answers: (addresses ?? []).map((data) => ({ type: 'A' as const, name: question!.name, ttl: ttlSeconds, data })),
    });
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
