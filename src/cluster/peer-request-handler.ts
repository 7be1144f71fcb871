import { DistCacheError, ErrorCode, isDistCacheError } from '../errors.js';
import { validateKey } from '../keyspace/entry-input.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import type { ReadResult } from '../keyspace/types.js';
import { UNKNOWN_VERSION } from '../keyspace/versions.js';
import type { CopyCoordinator } from './copy-coordinator.js';
import type { CopyHolders } from './copy-holders.js';
import type { HotCache } from './hot-cache.js';
import type { OwnerRouter } from './owner-router.js';
import { MAX_PEER_FRAME_BYTES, peerReadEntryBytes, type PeerReadEntry } from './peer-codec.js';
import type { PeerReadReply, PeerRequestHandler } from './peer-server.js';

/** Bytes the entries of one VALUES reply may take: a frame, less room for its header and count. */
const VALUES_BUDGET_BYTES = MAX_PEER_FRAME_BYTES - 64;
const SKIPPED: PeerReadEntry = { status: 'skipped' };

/** What the handler needs from the cluster. */
export interface PeerRequestContext {
  /** This node's id, for error messages. */
  readonly selfId: string;
  /** This node's keyspace of that name, if defined. */
  keyspace(name: string): Keyspace | undefined;
  /** Drops a keyspace on this node only. */
  dropLocal(name: string): Promise<void>;
  readonly hot: HotCache;
  readonly router: OwnerRouter;
  readonly copies: CopyCoordinator;
  /** The nodes this node answers reads for, by key: a write here invalidates them. */
  readonly holders: CopyHolders;
  /** The members whose peer connections come from `host` (none: a reader this node cannot name). */
  membersAt(host: string): readonly string[];
}

/**
 * The server side of peer requests: answers them with this node's own
 * keyspaces, never routing them on (the asking node already chose this one).
 * A read's requester is remembered as a holder of a hot copy; a write here is
 * acknowledged once the holders of the key dropped theirs. A write for a key
 * this node does not own (the writer's view of the members is not this
 * node's, or this node is leaving) is forwarded to its owners before it is
 * acknowledged.
 */
export function createPeerRequestHandler(context: PeerRequestContext): PeerRequestHandler {
  const { copies } = context;
  /** After a write here: the holders of hot copies drop them, and a key this node does not own goes on to its owners. */
  const afterWrite = (
    keyspace: Keyspace,
    key: string,
    standIn: boolean,
    result: boolean,
  ): boolean | Promise<boolean> => {
    const told = context.router.invalidateHolders(keyspace, key, keyspace.copyOf(key)?.version ?? UNKNOWN_VERSION);
    const forwarded = copies.forward(keyspace, key, standIn);
    if (told === undefined && forwarded === undefined) return result;
    return Promise.all([told, forwarded]).then(() => result);
  };
  const keyspaceNamed = (name: string): Keyspace => {
    const found = context.keyspace(name);
    if (found === undefined)
      throw new DistCacheError(ErrorCode.KEYSPACE_NOT_FOUND, `keyspace "${name}" is not defined on ${context.selfId}`);
    return found;
  };
  return {
    get: (name, key, remoteHost) => {
      const keyspace = keyspaceNamed(name);
      // Before the read: a write that lands while it runs must find this reader.
      context.holders.record(name, key, context.membersAt(remoteHost), Date.now());
      const read = copies.resync.active ? copies.resync.read(keyspace, key, undefined) : keyspace.read(key, undefined);
      return read instanceof Promise ? read.then(toReadReply) : toReadReply(read);
    },
    getMany: async (name, keys, remoteHost) => {
      const keyspace = keyspaceNamed(name);
      const readers = context.membersAt(remoteHost);
      // Every key is asked before any answer is awaited: the misses load as one batch. Each
      // reader is recorded before its read, as for a GET.
      const reads = keys.map((key) => {
        context.holders.record(name, key, readers, Date.now());
        return readOne(keyspace, key, copies.resync);
      });
      return withinOneFrame((await Promise.allSettled(reads)).map(toReadEntry));
    },
    put: ({ keyspace: name, key, expiresAt, value, ifAbsent, standIn, version }) => {
      validateKey(key);
      const keyspace = keyspaceNamed(name);
      const commit = (): boolean | Promise<boolean> => {
        if (!keyspace.commitPut({ key, bytes: value, expiry: expiresAt }, ifAbsent, version)) return false;
        return afterWrite(keyspace, key, standIn, true);
      };
      // A copy held from before a sync may be stale: check it before deciding whether the key is free.
      const checking = ifAbsent ? copies.resync.check(keyspace, key) : undefined;
      return checking === undefined ? commit() : checking.then(commit);
    },
    delete: ({ keyspace: name, key, standIn, version }) => {
      const keyspace = keyspaceNamed(name);
      return afterWrite(keyspace, key, standIn, keyspace.delete(key, version));
    },
    invalidate: (name, key, version) => {
      validateKey(key);
      return context.router.onInvalidation(keyspaceNamed(name), key, version);
    },
    deleteKeyspace: async (name) => {
      context.hot.dropKeyspace(name);
      context.holders.dropKeyspace(name);
      if (context.keyspace(name) !== undefined) await context.dropLocal(name);
    },
    peek: (name, key) => {
      validateKey(key);
      return keyspaceNamed(name).copyOf(key);
    },
    merge: (name, entries) => {
      const keyspace = keyspaceNamed(name);
      for (const { key } of entries) validateKey(key);
      // A newer copy replaced what readers may hold as hot copies: they drop them before the sender hears back.
      const told: Promise<void>[] = [];
      const ownsAll = copies.merge(keyspace, entries, (key, version) => {
        const telling = context.router.invalidateHolders(keyspace, key, version);
        if (telling !== undefined) told.push(telling);
      });
      return told.length === 0 ? ownsAll : Promise.all(told).then(() => ownsAll);
    },
    sync: async (requester) => {
      await copies.serveSync(requester);
    },
    clearKeyspace: (name) => context.router.clearLocal(name, context.keyspace(name)),
  };
}

/** One key's read, its synchronous failure (a bad key) as a rejection. */
function readOne(
  keyspace: Keyspace,
  key: string,
  resync: CopyCoordinator['resync'],
): ReadResult | undefined | Promise<ReadResult | undefined> {
  try {
    return resync.active ? resync.read(keyspace, key, undefined) : keyspace.read(key, undefined);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** One key's read as a VALUES entry; a failure carries its error's code, as an ERROR reply would. */
function toReadEntry(settled: PromiseSettledResult<ReadResult | undefined>): PeerReadEntry {
  if (settled.status === 'rejected') {
    const error = settled.reason as Error | undefined;
    return {
      status: 'error',
      code: isDistCacheError(error) ? error.code : ErrorCode.DATASOURCE_FAILED,
      message: error?.message ?? String(error),
    };
  }
  const { bytes, expiresAt } = toReadReply(settled.value);
  return bytes === null ? { status: 'not_found', expiresAt } : { status: 'found', expiresAt, value: bytes };
}

/** The entries that fit one frame; the others are skipped, for the requester to ask one by one. */
function withinOneFrame(entries: PeerReadEntry[]): PeerReadEntry[] {
  let used = 0;
  return entries.map((entry) => {
    const bytes = peerReadEntryBytes(entry);
    if (used + bytes > VALUES_BUDGET_BYTES) return SKIPPED;
    used += bytes;
    return entry;
  });
}

/** A read as a GET reply. A miss without a data source is not cacheable anywhere: it expires now. */
function toReadReply(read: ReadResult | undefined): PeerReadReply {
  return read === undefined ? { bytes: null, expiresAt: Date.now() } : { bytes: read.value, expiresAt: read.expiresAt };
}
