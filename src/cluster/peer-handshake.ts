import { DistCacheError, ErrorCode } from '../errors.js';
import { MessageType, type OutgoingPeerMessage, type PeerMessage } from './peer-codec.js';

/**
 * The peer handshake, pure: messages in, messages out or a verdict; no
 * sockets, no timers. It runs inside the channel that peer-channel.ts
 * secures (TLS 1.3 keyed by the cluster key, or mutual TLS), so it proves
 * nothing about keys itself. It agrees on a protocol version and checks that
 * the client reached the node it meant to:
 *
 *   client → HELLO { minVersion, maxVersion, target }
 *   server → WELCOME { version }        the highest version both ranges hold
 *          | ERROR { ERR_PROTOCOL, why } then closes
 *
 * Every node of a cluster holds the same cluster key, so TLS alone cannot
 * tell one node from another: a network attacker could hand a node's
 * connection to itself or to a third node (the "Selfie" reflection on
 * shared TLS 1.3 keys). `target` is the member id the client dialed, and a
 * server answers only connections meant for it.
 *
 * Protocol versions, by what a connection carries once the handshake is done:
 *   1  GET, GET_MANY, PUT, DELETE, DELETE_KEYSPACE, INVALIDATE, CLEAR_KEYSPACE;
 *      VALUE, VALUES, OK, ERROR
 *   2  version 1, plus GOING_AWAY: a stopping node asks its peers to send no
 *      new requests on the connection, so they go to the next node at once
 *   3  version 2, plus entry versions: VERSIONED_PUT/DELETE/INVALIDATE,
 *      PEEK/COPY, HANDOFF and SYNC (see VERSIONS_SINCE)
 * A node speaks every version of its range, so a cluster upgraded one node
 * at a time keeps working: each pair of nodes speaks the newest version both
 * know. (The HMAC handshake that came before TLS and version ranges is not
 * part of any range: a node that speaks it cannot connect.)
 */

/** Protocol versions a node speaks, both ends included. */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

/** The versions this build speaks. */
export const PEER_PROTOCOL_VERSIONS: VersionRange = { min: 2, max: 3 };

/** Largest frame a server reads before the handshake is done: a HELLO with a target id fits, nothing larger is buffered. */
export const HANDSHAKE_FRAME_BYTES = 512;

/** First version in which a server sends GOING_AWAY. */
export const GOING_AWAY_SINCE = 2;

/**
 * First version that carries entry versions (the versioned writes and
 * invalidations, PEEK/COPY, HANDOFF, SYNC). On an older connection writes go
 * unversioned (the receiver stamps them) and the copy exchanges are refused,
 * so a cluster keeps serving while it is upgraded one node at a time; the
 * consistency rule under churn holds once every node speaks this version.
 */
export const VERSIONS_SINCE = 3;

/**
 * The outcome of a handshake: the version the connection speaks from now on,
 * or why it must be closed.
 */
export type HandshakeVerdict =
  { readonly accepted: true; readonly version: number } | { readonly accepted: false; readonly reason: string };

/** The highest version in both ranges, or undefined when they do not overlap. */
export function highestCommonVersion(ours: VersionRange, theirs: VersionRange): number | undefined {
  const version = Math.min(ours.max, theirs.max);
  return version >= Math.max(ours.min, theirs.min) ? version : undefined;
}

/** `min..max`, as logs and refusals show a range. */
export function formatRange({ min, max }: VersionRange): string {
  return `${min}..${max}`;
}

/** The server's half: answers the connection's first message. */
export class ServerHandshake {
  readonly #versions: VersionRange;
  readonly #selfId: string;
  #done = false;

  constructor(versions: VersionRange, selfId: string) {
    this.#versions = versions;
    this.#selfId = selfId;
  }

  /** The reply to send for the connection's first message, and whether the connection goes on. */
  receive(message: PeerMessage): { reply: OutgoingPeerMessage; verdict: HandshakeVerdict } {
    if (this.#done) throw new DistCacheError(ErrorCode.PROTOCOL, 'peer handshake: already decided');
    this.#done = true;
    const verdict = this.#decide(message);
    const reply: OutgoingPeerMessage = verdict.accepted
      ? { type: MessageType.WELCOME, requestId: 0, version: verdict.version }
      : { type: MessageType.ERROR, requestId: 0, code: ErrorCode.PROTOCOL, message: verdict.reason };
    return { reply, verdict };
  }

  #decide(message: PeerMessage): HandshakeVerdict {
    if (message.type !== MessageType.HELLO) return refused(`expected HELLO, got message type ${message.type}`);
    const theirs = { min: message.minVersion, max: message.maxVersion };
    if (theirs.min > theirs.max) return refused(`the HELLO's version range ${formatRange(theirs)} is empty`);
    if (message.target !== this.#selfId)
      return refused(`the connection was meant for ${JSON.stringify(message.target)}, this node is ${this.#selfId}`);
    const version = highestCommonVersion(this.#versions, theirs);
    if (version === undefined) return refused(noCommonVersion(this.#versions, theirs));
    return { accepted: true, version };
  }
}

/** The client's half: says HELLO, then judges the server's answer. */
export class ClientHandshake {
  readonly #versions: VersionRange;
  readonly #target: string;
  #done = false;

  /** `target` is the id of the node the client dials. */
  constructor(versions: VersionRange, target: string) {
    this.#versions = versions;
    this.#target = target;
  }

  /** The connection's first message. */
  hello(): OutgoingPeerMessage {
    return {
      type: MessageType.HELLO,
      requestId: 0,
      minVersion: this.#versions.min,
      maxVersion: this.#versions.max,
      target: this.#target,
    };
  }

  /** Judges the server's first message. */
  receive(message: PeerMessage): HandshakeVerdict {
    if (this.#done) throw new DistCacheError(ErrorCode.PROTOCOL, 'peer handshake: already decided');
    this.#done = true;
    if (message.type === MessageType.ERROR) return refused(`the peer refused the handshake: ${message.message}`);
    if (message.type !== MessageType.WELCOME) return refused(`expected WELCOME, got message type ${message.type}`);
    const { version } = message;
    if (version < this.#versions.min || version > this.#versions.max)
      return refused(`the peer chose version ${version}, outside ${formatRange(this.#versions)}`);
    return { accepted: true, version };
  }
}

/**
 * The versions this node speaks: {@link PEER_PROTOCOL_VERSIONS}, or for tests
 * only, the narrower range `DISTCACHE_TEST_PEER_PROTOCOL` names (`1..1`, or
 * `1` for one version), to run a node as an older release would. Throws
 * ERR_INVALID_CONFIG for a range this build does not speak.
 */
export function localVersions(env: NodeJS.ProcessEnv = process.env): VersionRange {
  const forced = env.DISTCACHE_TEST_PEER_PROTOCOL;
  if (forced === undefined || forced === '') return PEER_PROTOCOL_VERSIONS;
  const match = /^(\d{1,5})(?:\.\.(\d{1,5}))?$/.exec(forced.trim());
  const range = match && { min: Number(match[1]), max: Number(match[2] ?? match[1]) };
  if (
    !range ||
    range.min > range.max ||
    range.min < PEER_PROTOCOL_VERSIONS.min ||
    range.max > PEER_PROTOCOL_VERSIONS.max
  ) {
    throw new DistCacheError(
      ErrorCode.INVALID_CONFIG,
      `DISTCACHE_TEST_PEER_PROTOCOL (a test setting) must be a version range within ${formatRange(PEER_PROTOCOL_VERSIONS)}, e.g. "1..1"; got ${JSON.stringify(forced)}`,
    );
  }
  return range;
}

function noCommonVersion(ours: VersionRange, theirs: VersionRange): string {
  return `no common peer protocol version: this node speaks ${formatRange(ours)}, the peer ${formatRange(theirs)}; upgrade the older node`;
}

function refused(reason: string): HandshakeVerdict {
  return { accepted: false, reason };
}
