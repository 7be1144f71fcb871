import type { Keyspace } from '../keyspace/keyspace.js';
import type { HandoffEntry } from './handoff.js';

/** Most copies one batch carries. */
const BATCH_ENTRIES = 1_024;
/** Most bytes of keys and values one batch carries (a single larger copy goes alone). */
const BATCH_BYTES = 512 * 1024;
/** Time in ms a batch gathers copies before it leaves (unless full): the delay copies take, for fewer requests. */
export const COPY_LINGER_MS = 10;

/** Sends copies of a keyspace's keys to a node, which merges each when newer than its own; resolves once it did. */
export type SendCopies = (node: string, keyspace: Keyspace, entries: readonly HandoffEntry[]) => Promise<unknown>;

/** The copies queued for one node and keyspace, and the writes waiting on them. */
interface Batch {
  readonly entries: HandoffEntry[];
  readonly settles: ((error: unknown) => void)[];
  bytes: number;
}

/** One node and keyspace: the batch being filled, and whether one is on its way. */
interface Route {
  readonly node: string;
  readonly keyspace: Keyspace;
  next: Batch | undefined;
  /** Batches on their way: one, or more when full ones left early. */
  sending: number;
}

/**
 * Groups the copies sent to one node into few requests (HANDOFFs of many
 * entries): one batch per node and keyspace is on its way at a time, and
 * the copies queued meanwhile leave together when it is answered (or once
 * they fill a batch). An idle route gathers copies for COPY_LINGER_MS
 * before it sends, so a lone write's copy leaves within that; under load
 * the batches grow with the other node's round trip, and so the requests,
 * replies and socket writes per copy shrink.
 */
export class CopyBatches {
  readonly #send: SendCopies;
  readonly #routes = new Map<string, Route>();
  /** Routes with a batch to send at the end of this turn. */
  #due: Route[] = [];
  readonly #flushLater = () => this.#flushDue();

  constructor(send: SendCopies) {
    this.#send = send;
  }

  /** Queues `entry` for `node`; `settled` runs once the node merged it (error undefined) or the send failed. */
  send(node: string, keyspace: Keyspace, entry: HandoffEntry, settled: (error: unknown) => void): void {
    const id = routeId(node, keyspace.name);
    let route = this.#routes.get(id);
    if (route === undefined) {
      route = { node, keyspace, next: undefined, sending: 0 };
      this.#routes.set(id, route);
    }
    const size = entry.key.length + (entry.copy.value?.byteLength ?? 0);
    let batch = route.next;
    if (batch !== undefined && batch.bytes + size > BATCH_BYTES) {
      // The batch leaves without this copy, so that a batch stays within a frame (a large copy goes alone).
      route.next = undefined;
      this.#flush(route, batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = route.next = { entries: [], settles: [], bytes: 0 };
      if (route.sending === 0) this.#schedule(route);
    }
    batch.entries.push(entry);
    batch.settles.push(settled);
    batch.bytes += size;
    if (batch.entries.length >= BATCH_ENTRIES || batch.bytes >= BATCH_BYTES) {
      route.next = undefined;
      this.#flush(route, batch);
    }
  }

  /**
   * Forgets the copies of keyspace `name` not sent yet (it was emptied: they
   * must not fill it again elsewhere); their writes settle as done. Batches
   * already on their way reach the node before anything sent after this.
   */
  drop(name: string): void {
    for (const route of this.#routes.values()) {
      const batch = route.next;
      if (route.keyspace.name !== name || batch === undefined) continue;
      route.next = undefined;
      if (route.sending === 0) this.#forget(route);
      for (const settle of batch.settles) settle(undefined);
    }
  }

  #schedule(route: Route): void {
    if (this.#due.length === 0) setTimeout(this.#flushLater, COPY_LINGER_MS);
    this.#due.push(route);
  }

  #flushDue(): void {
    const due = this.#due;
    this.#due = [];
    for (const route of due) {
      const batch = route.next;
      if (batch === undefined || route.sending > 0) continue; // sent full already; the rest goes once it is answered
      route.next = undefined;
      this.#flush(route, batch);
    }
  }

  #flush(route: Route, { entries, settles }: Batch): void {
    const settleAll = (error: unknown) => {
      for (const settle of settles) settle(error);
      if (--route.sending > 0) return;
      if (route.next !== undefined) this.#schedule(route);
      else if (this.#routes.get(routeId(route.node, route.keyspace.name)) === route) this.#forget(route);
    };
    route.sending++;
    let sending: Promise<unknown>;
    try {
      sending = this.#send(route.node, route.keyspace, entries);
    } catch (error) {
      settleAll(error);
      return;
    }
    sending.then(() => settleAll(undefined), settleAll);
  }

  /** An idle route is dropped: nodes and keyspaces come and go. */
  #forget(route: Route): void {
    this.#routes.delete(routeId(route.node, route.keyspace.name));
  }
}

/** The key of a node and keyspace's route. */
function routeId(node: string, keyspace: string): string {
  return `${node}\u0000${keyspace}`;
}
