import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freeUdpPort } from './ports.js';
import { ServerProcess, startOnFreePort } from './server-process.js';

/** A real dnsmasq answering from a hosts file (and SRV lines) on 127.0.0.1. */
export interface Dnsmasq {
  /** `127.0.0.1:port`, for DnsDiscovery's `servers`. */
  readonly server: string;
  /** Replaces the hosts file (`ip name` lines) and makes dnsmasq re-read it (SIGHUP). */
  setHosts(lines: string[]): Promise<void>;
  /** Kills the server (an outage); `start()` runs it again on the same port with the same records. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server for good and removes its files. */
  close(): Promise<void>;
}

/**
 * Starts Debian's dnsmasq (`dnsmasq-base`) as an authoritative-only server
 * for the test: no upstream, no /etc/hosts, a TTL of 1 s on its answers.
 * `srvHosts` are dnsmasq `--srv-host` values (`_service._tcp.name,target,port`).
 */
export async function startDnsmasq(hosts: string[], srvHosts: string[] = []): Promise<Dnsmasq> {
  const dir = await mkdtemp(path.join(tmpdir(), 'distcache-dns-'));
  const hostsFile = path.join(dir, 'hosts');
  await writeFile(hostsFile, hosts.join('\n') + '\n');
  // dnsmasq serves UDP and TCP on its port: one free for UDP a moment ago may be taken for TCP.
  const { server: running, port } = await startOnFreePort(
    freeUdpPort,
    (port) =>
      new ServerProcess(
        'dnsmasq',
        [
          '--keep-in-foreground',
          '--log-facility=-',
          '--conf-file=/dev/null',
          '--pid-file=',
          '--user=root',
          `--port=${port}`,
          '--listen-address=127.0.0.1',
          '--bind-interfaces',
          '--no-resolv',
          '--no-hosts',
          `--addn-hosts=${hostsFile}`,
          '--local-ttl=1',
          '--local=/test/',
          '--local=/local/',
          ...srvHosts.map((srv) => `--srv-host=${srv}`),
        ],
        `read ${hostsFile}`,
        'dnsmasq-base',
      ),
  );
  return {
    server: `127.0.0.1:${port}`,
    setHosts: async (lines) => {
      await writeFile(hostsFile, lines.join('\n') + '\n');
      running.signal('SIGHUP');
      await new Promise((resolve) => setTimeout(resolve, 100));
    },
    start: () => running.start(),
    stop: () => running.stop(),
    close: async () => {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
