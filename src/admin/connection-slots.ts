import type { Socket } from 'node:net';

/**
 * A cap on the connections a server holds, where a newcomer is never the
 * one refused: at the cap, the oldest connection is closed to make room.
 * Slow clients that open connections and hold them (sending nothing, or a
 * header a byte at a time) are always older than a probe that connects and
 * asks at once, so `GET /health` keeps being answered while they fill every
 * slot; refusing newcomers instead would starve the liveness probe and get
 * a healthy process restarted.
 */
export class ConnectionSlots {
  /** Open connections, oldest first (a Set iterates in insertion order). */
  readonly #sockets = new Set<Socket>();

  constructor(private readonly max: number) {}

  /** Takes a slot for a new connection, closing the oldest one when every slot is taken. */
  admit(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    if (this.#sockets.size <= this.max) return;
    const oldest = this.#sockets.values().next().value!;
    this.#sockets.delete(oldest);
    oldest.destroy();
  }
}
