import type { Stream } from '@libp2p/interface';
import { pushable, type Pushable } from 'it-pushable';
import type { Logger } from '../logger.js';
import { toMultiaddr, type Libp2pHost } from './libp2p-host.js';
import { decodeSwimMessage, encodeSwimMessage, MAX_MESSAGE_BYTES } from './swim/codec.js';
import { frame, FrameReader, LENGTH_BYTES } from './swim/frames.js';
import type { SwimMessage } from './swim/messages.js';

/** The libp2p protocol that carries SWIM messages. */
export const SWIM_PROTOCOL = '/distcache/swim/1';
/** Inbound SWIM streams one connection may have open at once (a peer keeps one). */
const MAX_INBOUND_STREAMS = 4;
/** Time to connect to a peer and open the stream: a node busy starting up may take seconds. */
const OPEN_TIMEOUT_MS = 10_000;
/** Bytes queued for one peer that has not taken them yet (a frozen process): past it, messages are dropped. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** Why a message could not be sent: `refused` means the peer is certainly not there; `timeout` proves nothing. */
export type SendFailure = 'refused' | 'timeout';

/** The open stream to one peer, and what waits in it. */
interface Outbound {
  readonly frames: Pushable<Uint8Array>;
  queued: number;
  /** Set once it is forgotten: ending the frames calls back into {@link SwimTransport.#forget}. */
  ended: boolean;
}

/**
 * Carries SWIM messages between libp2p hosts as datagrams: one long-lived
 * stream to each peer, length-prefixed frames. The state machine keeps its
 * own timeouts, so a send only reports whether the peer could be reached at
 * all; a message that does not fit a frozen peer's queue is dropped, as a
 * lost datagram would be.
 */
export class SwimTransport {
  readonly #host: Libp2pHost;
  readonly #logger: Logger;
  readonly #receive: (message: SwimMessage, peer: string) => void;
  readonly #outbound = new Map<string, Promise<Outbound | SendFailure>>();

  /** `receive` gets each valid message and the libp2p peer id of the connection it came on. */
  constructor(host: Libp2pHost, receive: (message: SwimMessage, peer: string) => void, logger: Logger) {
    this.#host = host;
    this.#receive = receive;
    this.#logger = logger;
  }

  /** Starts answering the SWIM protocol. */
  async start(): Promise<void> {
    await this.#host.handle(
      SWIM_PROTOCOL,
      ({ stream, connection }) => void this.#read(stream, String(connection.remotePeer)),
      {
        maxInboundStreams: MAX_INBOUND_STREAMS,
      },
    );
  }

  /**
   * Queues `message` for the host at `address` (`host:port`), opening a
   * stream to it (within OPEN_TIMEOUT_MS) if there is none. Resolves
   * undefined once the message is queued (or dropped: over MAX_MESSAGE_BYTES,
   * or the queue is full), or why it could not be.
   */
  async send(address: string, message: SwimMessage): Promise<SendFailure | undefined> {
    const bytes = encodeSwimMessage(message);
    // The peer would end the stream at its header, and the messages queued behind it with it.
    if (bytes.byteLength > MAX_MESSAGE_BYTES) {
      this.#logger.warn({ address, type: message.type, bytes: bytes.byteLength }, 'SWIM message too large: not sent');
      return undefined;
    }
    let opening = this.#outbound.get(address);
    if (opening === undefined) {
      opening = this.#open(address);
      this.#outbound.set(address, opening);
    }
    const outbound = await opening;
    if (typeof outbound === 'string') {
      if (this.#outbound.get(address) === opening) this.#outbound.delete(address);
      return outbound;
    }
    if (outbound.queued + LENGTH_BYTES + bytes.byteLength > MAX_QUEUED_BYTES) return undefined;
    outbound.queued += LENGTH_BYTES + bytes.byteLength;
    outbound.frames.push(frame(bytes));
    return undefined;
  }

  /** Forgets the stream to `address`: the next message opens a new one (the old connection may be stuck). */
  drop(address: string): void {
    const opening = this.#outbound.get(address);
    if (opening === undefined) return;
    this.#outbound.delete(address);
    void opening.then((outbound) => typeof outbound !== 'string' && this.#forget(address, outbound));
  }

  /** Ends every outbound stream. */
  close(): void {
    for (const opening of this.#outbound.values())
      void opening.then((outbound) => typeof outbound !== 'string' && outbound.frames.end());
    this.#outbound.clear();
  }

  async #open(address: string): Promise<Outbound | SendFailure> {
    const signal = AbortSignal.timeout(OPEN_TIMEOUT_MS);
    let stream: Stream;
    try {
      stream = await this.#host.dialProtocol(toMultiaddr(address), SWIM_PROTOCOL, { signal });
    } catch (error) {
      this.#logger.debug({ address, err: (error as Error).message }, 'SWIM peer not reachable');
      return signal.aborted ? 'timeout' : 'refused';
    }
    const outbound: Outbound = {
      queued: 0,
      ended: false,
      frames: pushable<Uint8Array>({ onEnd: () => this.#forget(address, outbound) }),
    };
    const counted = async function* () {
      for await (const bytes of outbound.frames) {
        outbound.queued -= bytes.byteLength;
        yield bytes;
      }
    };
    stream.sink(counted()).then(
      () => this.#forget(address, outbound),
      (error: unknown) => {
        this.#logger.debug({ address, err: (error as Error).message }, 'SWIM stream closed');
        this.#forget(address, outbound);
      },
    );
    return outbound;
  }

  /** The stream to `address` ended: the next message opens a new one. */
  #forget(address: string, outbound: Outbound): void {
    if (outbound.ended) return;
    outbound.ended = true;
    const current = this.#outbound.get(address);
    if (current !== undefined)
      void current.then((open) => {
        if (open === outbound && this.#outbound.get(address) === current) this.#outbound.delete(address);
      });
    outbound.frames.end();
  }

  /** Reads length-prefixed messages until the stream ends; a frame over MAX_MESSAGE_BYTES ends it. */
  async #read(stream: Stream, peer: string): Promise<void> {
    const reader = new FrameReader(MAX_MESSAGE_BYTES);
    try {
      for await (const chunk of stream.source)
        for (const payload of reader.push(chunk.subarray())) this.#deliver(payload, peer);
    } catch (error) {
      stream.abort(error as Error);
      this.#logger.debug({ peer, err: (error as Error).message }, 'SWIM stream failed');
    }
  }

  /** Hands a valid message to the owner; a malformed one is dropped, as a corrupt datagram would be. */
  #deliver(payload: Uint8Array, peer: string): void {
    let message: SwimMessage;
    try {
      message = decodeSwimMessage(payload);
    } catch (error) {
      this.#logger.debug({ peer, err: (error as Error).message }, 'ignored a malformed SWIM message');
      return;
    }
    this.#receive(message, peer);
  }
}
