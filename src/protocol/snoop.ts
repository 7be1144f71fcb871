import net from 'node:net';
import { OutputGate, STALLED_OUTPUT_TIMEOUT_MS } from '../net/output-gate.js';
import { connectOptions, type SessionAddress } from './address.js';
import { DcMessageDecoder, Operation, parseAddRequest, type AddRequest, type DcMessage } from './codec.js';
import { listenOn, type ListeningAddress } from './server-socket.js';

const OPERATION_NAMES = Object.fromEntries(Object.entries(Operation).map(([name, code]) => [code, name])) as Record<
  number,
  string
>;
const STATUS_NAMES: Record<number, string> = {
  0: 'OK',
  1: 'NOTOK',
  2: 'DISCONNECTED',
  100: 'CORRUPT',
  101: 'MATCHING_SESSION',
  102: 'TIMEOUT_RANGE',
  103: 'ID_RANGE',
  104: 'DATA_RANGE',
};

/** One line describing a decoded message, as dc_snoop prints it. */
export function describeMessage(message: DcMessage): string {
  const operation = OPERATION_NAMES[message.operation] ?? String(message.operation);
  const head = `${message.isResponse ? 'response' : 'request '} uid=${message.requestUid} ${operation}`;
  if (message.isResponse) {
    return message.data.byteLength === 1
      ? `${head} status=${STATUS_NAMES[message.data[0]!] ?? message.data[0]}`
      : `${head} session=${message.data.byteLength} bytes`;
  }
  if (message.operation !== Operation.ADD) return `${head} id=${Buffer.from(message.data).toString('hex')}`;
  let add: AddRequest;
  try {
    add = parseAddRequest(message.data);
  } catch (error) {
    return `${head} unanswerable (${(error as Error).message})`;
  }
  return add.ok
    ? `${head} id=${Buffer.from(add.id).toString('hex')} timeout=${add.timeoutMs}ms session=${add.session.byteLength} bytes`
    : `${head} invalid (status ${add.status})`;
}

/**
 * A transparent proxy like dc_snoop: each client connection gets its own
 * connection to the server, bytes pass through unchanged both ways, and every
 * frame is decoded and reported to `print`. A side that does not read holds
 * back the other (it is read no further while the bytes for it exceed the
 * output bound), and the pair is closed when that lasts `stalledOutputTimeout` ms.
 */
export class SessionSnoop {
  #listening: ListeningAddress | undefined;
  readonly #sockets = new Set<net.Socket>();
  #connections = 0;

  constructor(
    private readonly listen: SessionAddress,
    private readonly upstream: SessionAddress,
    private readonly print: (line: string) => void,
    private readonly stalledOutputTimeout = STALLED_OUTPUT_TIMEOUT_MS,
  ) {}

  async start(): Promise<void> {
    this.#listening = await listenOn(this.listen, (client) => this.#accept(client));
  }

  address(): string {
    return this.#listening!.address;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await this.#listening?.close();
  }

  #accept(client: net.Socket): void {
    const id = ++this.#connections;
    const server = net.connect(connectOptions(this.upstream));
    for (const socket of [client, server]) {
      this.#sockets.add(socket);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        server.destroy();
      });
      socket.on('error', () => undefined);
    }
    this.print(`[${id}] connected`);
    this.#relay(client, server, `[${id}] ->`);
    this.#relay(server, client, `[${id}] <-`);
  }

  /** Forwards bytes from one socket to the other, printing each decoded message. */
  #relay(from: net.Socket, to: net.Socket, prefix: string): void {
    const decoder = new DcMessageDecoder();
    const output = new OutputGate(to, this.stalledOutputTimeout, () => from.resume());
    let broken = false;
    from.on('data', (chunk: Buffer) => {
      to.write(chunk);
      if (output.hold()) from.pause();
      if (broken) return;
      try {
        for (const message of decoder.push(chunk)) this.print(`${prefix} ${describeMessage(message)}`);
      } catch (error) {
        broken = true;
        this.print(`${prefix} undecodable: ${(error as Error).message}`);
      }
    });
  }
}
