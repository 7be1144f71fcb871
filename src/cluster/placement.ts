import type { Hasher } from './hasher.js';

/** Keys per keyspace whose primary is remembered; the memory is cleared, not evicted, past it. */
const MAX_REMEMBERED_PRIMARIES = 65_536;

/**
 * Rendezvous (highest random weight) hashing: every node scores each
 * (node, key) pair with the hasher and the highest scores own the key. Every
 * node with the same member list computes the same owners, with no shared
 * state; when a member leaves, only its keys move, each to the member that
 * ranked next for it (VSLP-style deterministic fallback).
 */
export class Placement {
  readonly #hasher: Hasher;
  #members: readonly string[] = [];
  /** Primary owner per keyspace and key for the current members: hashing every member on every read costs more than a lookup. */
  #primaries = new Map<string, Map<string, string>>();

  constructor(hasher: Hasher) {
    this.#hasher = hasher;
  }

  /** Replaces the member list (node ids). Order does not matter. */
  setMembers(members: Iterable<string>): void {
    this.#members = [...new Set(members)].sort();
    this.#primaries = new Map();
  }

  /** The current member ids, sorted. */
  get members(): readonly string[] {
    return this.#members;
  }

  /** The member that owns `key`: the first of {@link rank}, remembered until the members change. */
  primary(keyspaceName: string, key: string): string {
    let cache = this.#primaries.get(keyspaceName);
    if (cache === undefined) this.#primaries.set(keyspaceName, (cache = new Map()));
    let owner = cache.get(key);
    if (owner === undefined) {
      if (cache.size >= MAX_REMEMBERED_PRIMARIES) cache.clear();
      owner = this.#highestScore(keyspaceName, key);
      cache.set(key, owner);
    }
    return owner;
  }

  #highestScore(keyspaceName: string, key: string): string {
    const suffix = `\u0000${keyspaceName}\u0000${key}`;
    let best = this.#members[0]!;
    let bestScore = -1n;
    for (const member of this.#members) {
      const score = this.#hasher.hash(member + suffix);
      if (score > bestScore || (score === bestScore && member < best)) {
        best = member;
        bestScore = score;
      }
    }
    return best;
  }

  /** The first `replicaCount` of {@link rank}: the nodes that own `key`, owner first. */
  owners(keyspaceName: string, key: string, replicaCount: number): string[] {
    return this.rank(keyspaceName, key).slice(0, replicaCount);
  }

  /**
   * Whether `id` is one of the `replicaCount` owners of `key`. Every member is
   * when there are no more members than copies, and with one copy the
   * remembered primary answers: neither needs ranking.
   */
  isOwner(keyspaceName: string, key: string, replicaCount: number, id: string): boolean {
    if (this.#members.length <= replicaCount) return this.#members.includes(id);
    if (replicaCount === 1) return this.primary(keyspaceName, key) === id;
    return this.owners(keyspaceName, key, replicaCount).includes(id);
  }

  /** Every member, best first, for `key` in the keyspace `keyspaceName`: the first `replicaCount` own it, the rest are fallbacks in order. */
  rank(keyspaceName: string, key: string): string[] {
    return this.rankAmong(this.#members, keyspaceName, key);
  }

  /**
   * {@link rank} over any set of nodes instead of the members: the order
   * they would have in a view made of them alone (rendezvous hashing ranks
   * each node on its own, so a subset keeps the members' relative order).
   */
  rankAmong(nodes: readonly string[], keyspaceName: string, key: string): string[] {
    const suffix = `\u0000${keyspaceName}\u0000${key}`;
    const scored = nodes.map((member) => ({ member, score: this.#hasher.hash(member + suffix) }));
    scored.sort((a, b) => (a.score === b.score ? (a.member < b.member ? -1 : 1) : a.score > b.score ? -1 : 1));
    return scored.map(({ member }) => member);
  }

  /** The same hashing over another member list: the view before or after a change. */
  withMembers(members: Iterable<string>): Placement {
    const view = new Placement(this.#hasher);
    view.setMembers(members);
    return view;
  }
}
