import net from 'node:net';

/** The bytes one relayed connection carried, each direction in order. */
export interface RelayedConnection {
  readonly toServer: Buffer[];
  readonly toClient: Buffer[];
}

/**
 * A loopback TCP relay that records what it forwards: it listens on
 * `listen`, opens a connection to `target` for each client, and copies
 * bytes both ways. Tests put it where a node's peer address points, so every
 * byte between two nodes crosses it.
 */
export class TcpRelay {
  readonly connections: RelayedConnection[] = [];
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(listen: { host: string; port: number }, target: { host: string; port: number }) {
    const server = net.createServer();
    const relay = new TcpRelay(server);
    server.on('connection', (client) => relay.#relay(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen, resolve);
    });
    return relay;
  }

  /** Every byte relayed so far, both directions of every connection. */
  allBytes(): Buffer {
    return Buffer.concat(this.connections.flatMap((connection) => [...connection.toServer, ...connection.toClient]));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #relay(client: net.Socket, target: { host: string; port: number }): void {
    const server = net.connect(target);
    const record: RelayedConnection = { toServer: [], toClient: [] };
    this.connections.push(record);
    for (const socket of [client, server]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        server.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => (record.toServer.push(chunk), server.write(chunk)));
    server.on('data', (chunk: Buffer) => (record.toClient.push(chunk), client.write(chunk)));
  }
}
