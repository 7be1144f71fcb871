import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TestCa } from './certs.js';

type Pod = Record<string, unknown> & { metadata: Record<string, unknown> };
interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Pod;
}

/** Describes a pod as the API serves it. */
export function podJson(
  name: string,
  ip: string,
  state: { phase?: string; ready?: boolean; portName?: string; port?: number } = {},
): Pod {
  const { phase = 'Running', ready = true, portName = 'discovery', port = 3322 } = state;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'cache', labels: { app: 'distcache' }, uid: `uid-${name}` },
    spec: {
      containers: [
        {
          name: 'distcache',
          image: 'distcache:test',
          ports: [{ name: portName, containerPort: port, protocol: 'TCP' }],
        },
      ],
    },
    status: {
      phase,
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Ready', status: ready ? 'True' : 'False' },
      ],
    },
  };
}

/**
 * The pod list and watch endpoints of a Kubernetes API server, on loopback,
 * with the API's JSON shapes and resourceVersion semantics: a watch resumes
 * after the version it names, or gets a 410 Gone (an ERROR event, then the
 * end of the stream) once that version was compacted away. Served over HTTPS
 * with a certificate from a test CA, as a real API server is.
 */
export class KubeApiServer {
  readonly #ca = new TestCa('kube');
  readonly #pods = new Map<string, Pod>();
  readonly #events: WatchEvent[] = [];
  readonly #watchers = new Set<ServerResponse>();
  readonly #server = (() => {
    const files = this.#ca.issue('kube-apiserver', ['127.0.0.1']);
    return createServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) }, (request, response) =>
      this.#handle(request, response),
    );
  })();
  #version = 100;
  #compactedBefore = 0;
  /** Every request: its path, query and Authorization header. */
  readonly requests: { path: string; query: URLSearchParams; authorization: string | undefined }[] = [];

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this.#url();
  }

  #url(): string {
    return `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Writes a kubeconfig for this server (its CA, a bearer token), and returns its path. */
  async writeKubeconfig(file: string, token: string): Promise<string> {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: this.#url(), 'certificate-authority': this.#ca.ca.cert } }],
      users: [{ name: 'cache', user: { token } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'cache', namespace: 'cache' } }],
      'current-context': 'local',
    };
    await writeFile(file, JSON.stringify(config));
    return file;
  }

  /** Adds or changes a pod; watchers see ADDED or MODIFIED. */
  upsert(pod: Pod): void {
    const name = pod.metadata.name as string;
    this.#record(this.#pods.has(name) ? 'MODIFIED' : 'ADDED', pod);
  }

  /** Deletes a pod; watchers see DELETED. */
  remove(name: string): void {
    const pod = this.#pods.get(name);
    if (!pod) return;
    this.#pods.delete(name);
    this.#record('DELETED', pod);
  }

  /** Writes a raw line to every open watch (malformed events). */
  sendRaw(line: string): void {
    for (const watcher of this.#watchers) watcher.write(line + '\n');
  }

  /** Cuts every open watch connection, as a failing API server or load balancer would. */
  dropWatches(): void {
    for (const watcher of this.#watchers) watcher.socket?.destroy();
    this.#watchers.clear();
  }

  /** Forgets the event history: watches resuming from an older version get 410 Gone. */
  compact(): void {
    this.#compactedBefore = this.#version;
    this.#events.length = 0;
  }

  async close(): Promise<void> {
    this.dropWatches();
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #record(type: WatchEvent['type'], pod: Pod): void {
    const rv = ++this.#version;
    const object = { ...pod, metadata: { ...pod.metadata, resourceVersion: String(rv) } };
    if (type !== 'DELETED') this.#pods.set(pod.metadata.name as string, object);
    const event = { rv, type, object };
    this.#events.push(event);
    for (const watcher of this.#watchers) watcher.write(JSON.stringify({ type, object }) + '\n');
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://localhost');
    this.requests.push({ path: url.pathname, query: url.searchParams, authorization: request.headers.authorization });
    if (url.pathname !== '/api/v1/namespaces/cache/pods') {
      response
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
      return;
    }
    if (url.searchParams.get('watch') === 'true')
      this.#watch(Number(url.searchParams.get('resourceVersion') ?? 0), response);
    else this.#list(response);
  }

  #list(response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.#version) },
        items: [...this.#pods.values()],
      }),
    );
  }

  #watch(from: number, response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (from < this.#compactedBefore) {
      const status = {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${from}`,
        reason: 'Expired',
        code: 410,
      };
      response.end(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
      return;
    }
    response.flushHeaders();
    for (const event of this.#events)
      if (event.rv > from) response.write(JSON.stringify({ type: event.type, object: event.object }) + '\n');
    this.#watchers.add(response);
    response.on('close', () => this.#watchers.delete(response));
  }
}
