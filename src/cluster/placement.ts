import type { Hasher } from './hasher.js';

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

  constructor(hasher: Hasher) {
    this.#hasher = hasher;
  }

  /** Replaces the member list (node ids). Order does not matter. */
  setMembers(members: Iterable<string>): void {
    this.#members = [...new Set(members)].sort();
  }

  /** The current member ids, sorted. */
  get members(): readonly string[] {
    return this.#members;
  }

  /** The member that owns `key`: the first of {@link rank}, found without sorting. */
  primary(keyspace: string, key: string): string {
    const suffix = `\u0000${keyspace}\u0000${key}`;
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

  /** Every member, best first, for `key` in `keyspace`: the first `replicaCount` own it, the rest are fallbacks in order. */
  rank(keyspace: string, key: string): string[] {
    const suffix = `\u0000${keyspace}\u0000${key}`;
    const scored = this.#members.map((member) => ({ member, score: this.#hasher.hash(member + suffix) }));
    scored.sort((a, b) => (a.score === b.score ? (a.member < b.member ? -1 : 1) : a.score > b.score ? -1 : 1));
    return scored.map(({ member }) => member);
  }
}
