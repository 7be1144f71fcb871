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
  /**
   * Sends one batch of copies of a keyspace to a node, which merges them;
   * resolves whether that node owns every key of the batch in its own view.
   */
  send(node: string, keyspaceName: string, entries: readonly HandoffEntry[]): Promise<boolean>;
  readonly logger: Logger;
}

/** What a reconcile did. */
export interface ReconcileResult {
  /** Entries sent. */
  readonly sent: number;
  /** Entries this node does not own that it keeps: no owner took them yet (its view differs, or it is unreachable). */
  readonly unplaced: number;
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
 * Moves copies toward their owners, so that the newest copy of a key is on
 * the nodes that own it and a node never serves a copy it kept from an
 * earlier time it owned the key:
 *
 * - {@link reconcile}, after the members change: a copy this node does not
 *   own goes to the key's owners and is dropped here once one of them, in
 *   its own view, owns it (views differ while a change spreads: a node that
 *   does not own the key keeps it and sends it on at its own reconcile);
 *   a copy it owns goes to the co-owners that gained it (replicaCount > 1);
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
   * Reconciles the store with `view`, the members now; `before` is the view
   * of the last reconcile (whose co-owners already hold copies), `current()`
   * the view once the sends are done.
   */
  async reconcile(before: Placement, view: Placement, current: () => Placement): Promise<ReconcileResult> {
    const self = this.#context.selfId;
    const plan: Plan = new Map();
    const foreign: { keyspace: Keyspace; key: string; version: number }[] = [];
    await this.#scan((keyspace, key, copy) => {
      const copies = keyspace.config.replicaCount;
      const owners = view.owners(keyspace.name, key, copies);
      if (!owners.includes(self)) {
        for (const node of owners) addTo(plan, node, keyspace.name, { key, copy });
        foreign.push({ keyspace, key, version: copy.version });
        return;
      }
      if (copies === 1) return;
      const owned = before.owners(keyspace.name, key, copies);
      for (const node of owners)
        if (node !== self && !owned.includes(node)) addTo(plan, node, keyspace.name, { key, copy });
    });
    const { sent, placed } = await this.#send(plan);
    const now = current();
    let unplaced = 0;
    for (const { keyspace, key, version } of foreign) {
      // Dropped once an owner took it, unless ownership came back here meanwhile or a newer copy arrived.
      if (now.isOwner(keyspace.name, key, keyspace.config.replicaCount, self)) continue;
      if (placed.has(placedId(keyspace.name, key)) && keyspace.copyOf(key)?.version === version) keyspace.discard(key);
      else unplaced++;
    }
    return { sent, unplaced };
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
   * Before this node leaves: sends each entry it owns under `view` to every
   * node that owns it under `without` (the view without this node), co-owners
   * included (a loaded value is only on the node that loaded it); resolves
   * the number sent.
   */
  async handOffBeforeLeaving(view: Placement, without: Placement): Promise<number> {
    const self = this.#context.selfId;
    const plan: Plan = new Map();
    await this.#scan((keyspace, key, copy) => {
      const copies = keyspace.config.replicaCount;
      if (!view.isOwner(keyspace.name, key, copies, self)) return;
      for (const node of without.owners(keyspace.name, key, copies)) addTo(plan, node, keyspace.name, { key, copy });
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
   * A node that fails is logged and skipped. Resolves the entries sent and
   * the keys (as {@link placedId}) that a node owning them took.
   */
  async #send(plan: Plan): Promise<{ sent: number; placed: Set<string> }> {
    const placed = new Set<string>();
    const counts = await Promise.all(
      [...plan].map(async ([node, byKeyspace]) => {
        let sent = 0;
        try {
          for (const [name, entries] of byKeyspace) {
            for (const batch of batches(entries)) {
              const owns = await this.#context.send(node, name, batch);
              sent += batch.length;
              if (owns) for (const { key } of batch) placed.add(placedId(name, key));
            }
          }
        } catch (error) {
          this.#context.logger.warn(
            { node, sent, err: (error as Error).message },
            'handoff to a node failed; the copies stay here for a later try',
          );
        }
        return sent;
      }),
    );
    return { sent: counts.reduce((sum, count) => sum + count, 0), placed };
  }
}

function placedId(keyspaceName: string, key: string): string {
  return `${keyspaceName}\u0000${key}`;
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
