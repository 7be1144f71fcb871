import type { Keyspace } from '../keyspace/keyspace.js';
import { isExpiredCopy, type VersionedCopy } from '../keyspace/versions.js';
import type { Logger } from '../logger.js';
import type { Placement } from './placement.js';

/** One key's copy as a handoff carries it. */
export interface HandoffEntry {
  readonly key: string;
  readonly copy: VersionedCopy;
}

/** What handoff needs from the cluster. */
export interface HandoffContext {
  readonly selfId: string;
  /** The keyspaces of this node. */
  keyspaces(): readonly Keyspace[];
  /** Sends one batch of copies of a keyspace to a node; resolves once the node merged them. */
  send(node: string, keyspaceName: string, entries: readonly HandoffEntry[]): Promise<void>;
  readonly logger: Logger;
}

/** Most bytes of values in one batch: big enough to amortise a round trip, small enough not to hold up a connection. */
const BATCH_BYTES = 512 * 1024;
/** Most entries in one batch. */
const BATCH_ENTRIES = 1_024;
/** Keys planned between two yields to the event loop: planning ranks every key, and reads must go on meanwhile. */
const KEYS_PER_SLICE = 2_048;

/** Which copies go to which node: per node, per keyspace, the entries. */
type Plan = Map<string, Map<string, HandoffEntry[]>>;

/**
 * Moves copies when ownership moves, so that the newest copy of a key is
 * always on its owners and a node never serves a copy it kept from an
 * earlier time it owned the key:
 *
 * - {@link reconcile}: after the members change, each node sends the
 *   entries (and tombstones) it owned to the nodes that gained them, then
 *   drops those it no longer owns;
 * - {@link pushOwnedBy}: everything a node (that is syncing) owns;
 * - {@link handOffBeforeLeaving}: a stopping node's entries, to the owners
 *   they will have once it is gone.
 *
 * The receiver merges each copy by version, so a copy sent twice, or an
 * older one, changes nothing.
 */
export class Handoff {
  readonly #context: HandoffContext;

  constructor(context: HandoffContext) {
    this.#context = context;
  }

  /**
   * After a change of members from `before` to `after`: sends every entry
   * this node owned under `before` to the nodes that own it under `after`
   * and did not before, then drops the entries this node no longer owns
   * under `now()` (the view once the sends are done), unless a node that
   * should have received the entry could not be reached (the copy is then
   * kept, unused, in case ownership comes back). Resolves the number of
   * entries sent.
   */
  async reconcile(before: Placement, after: Placement, now: () => Placement): Promise<number> {
    const self = this.#context.selfId;
    const plan: Plan = new Map();
    const lost: { keyspace: Keyspace; key: string; to: string[] }[] = [];
    await this.#scan((keyspace, key, copy) => {
      const copies = keyspace.config.replicaCount;
      const owned = before.owners(keyspace.name, key, copies);
      if (!owned.includes(self)) return;
      const owners = after.owners(keyspace.name, key, copies);
      const gained = owners.filter((node) => !owned.includes(node));
      for (const node of gained) addTo(plan, node, keyspace.name, { key, copy });
      if (!owners.includes(self)) lost.push({ keyspace, key, to: gained });
    });
    const { sent, failed } = await this.#send(plan);
    const view = now();
    for (const { keyspace, key, to } of lost) {
      if (to.some((node) => failed.has(node))) continue;
      if (!view.isOwner(keyspace.name, key, keyspace.config.replicaCount, self)) keyspace.discard(key);
    }
    return sent;
  }

  /** Sends `node` every entry held here that it owns under `view`; resolves the number sent. */
  async pushOwnedBy(node: string, view: Placement): Promise<number> {
    const plan: Plan = new Map();
    await this.#scan((keyspace, key, copy) => {
      if (view.isOwner(keyspace.name, key, keyspace.config.replicaCount, node))
        addTo(plan, node, keyspace.name, { key, copy });
    });
    return (await this.#send(plan)).sent;
  }

  /**
   * Before this node leaves: sends each entry it owns under `view` to the
   * nodes that own it under `without` (the view without this node) and do
   * not already; resolves the number sent.
   */
  async handOffBeforeLeaving(view: Placement, without: Placement): Promise<number> {
    const self = this.#context.selfId;
    const plan: Plan = new Map();
    await this.#scan((keyspace, key, copy) => {
      const copies = keyspace.config.replicaCount;
      const owned = view.owners(keyspace.name, key, copies);
      if (!owned.includes(self)) return;
      for (const node of without.owners(keyspace.name, key, copies))
        if (!owned.includes(node)) addTo(plan, node, keyspace.name, { key, copy });
    });
    return (await this.#send(plan)).sent;
  }

  /** Visits every unexpired entry of every keyspace, yielding to the event loop between slices. */
  async #scan(visit: (keyspace: Keyspace, key: string, copy: VersionedCopy) => void): Promise<void> {
    let visited = 0;
    for (const keyspace of this.#context.keyspaces()) {
      const now = Date.now();
      for (const key of keyspace.keys()) {
        const copy = keyspace.copyOf(key);
        if (copy !== undefined && !isExpiredCopy(copy, now)) visit(keyspace, key, copy);
        if (++visited % KEYS_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /**
   * Sends the plan: nodes in parallel, each one's batches one after another.
   * A node that fails is logged and skipped; resolves the entries sent and
   * the nodes that failed.
   */
  async #send(plan: Plan): Promise<{ sent: number; failed: Set<string> }> {
    const failed = new Set<string>();
    const counts = await Promise.all(
      [...plan].map(async ([node, byKeyspace]) => {
        let sent = 0;
        try {
          for (const [name, entries] of byKeyspace) {
            for (const batch of batches(entries)) {
              await this.#context.send(node, name, batch);
              sent += batch.length;
            }
          }
        } catch (error) {
          failed.add(node);
          this.#context.logger.warn(
            { node, sent, err: (error as Error).message },
            'handoff to a node failed; it receives those keys from others or loads them',
          );
        }
        return sent;
      }),
    );
    return { sent: counts.reduce((sum, count) => sum + count, 0), failed };
  }
}

function addTo(plan: Plan, node: string, keyspaceName: string, entry: HandoffEntry): void {
  let byKeyspace = plan.get(node);
  if (byKeyspace === undefined) plan.set(node, (byKeyspace = new Map()));
  let entries = byKeyspace.get(keyspaceName);
  if (entries === undefined) byKeyspace.set(keyspaceName, (entries = []));
  entries.push(entry);
}

/** Splits entries into batches of at most BATCH_ENTRIES entries and about BATCH_BYTES bytes of values. */
export function* batches(entries: readonly HandoffEntry[]): Generator<HandoffEntry[]> {
  let batch: HandoffEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entry.key.length + (entry.copy.value?.byteLength ?? 0);
    if (batch.length > 0 && (batch.length >= BATCH_ENTRIES || bytes + size > BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}
