import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { describeValue, DistCacheError, ErrorCode } from '../../errors.js';
import { msgpackBoundsViolation } from '../../lib/msgpack-bounds.js';
import { MAX_MEMBERS, type SwimMessage } from './messages.js';

/** Largest encoded message: a full-state exchange of {@link MAX_MEMBERS} members fits. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Most rumours on one message (the state machine sends at most 10). */
const MAX_RUMOURS = 64;
/** Containers nest this deep in a message: [version, { members: [ { ... } ] }]. */
const MAX_DEPTH = 4;

/** Wire format version, first field of every message: a node drops what it cannot read. */
const VERSION = 1;

const name = z.string().min(1).max(300);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const identity = { id: name, address: name, incarnation: count, meta: z.string().max(256) };
const state = z.enum(['alive', 'suspect', 'dead', 'left']);
const rumour = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('alive'), ...identity }),
  z.strictObject({ type: z.literal('suspect'), id: name, incarnation: count, from: name }),
  z.strictObject({ type: z.literal('dead'), id: name, incarnation: count, from: name }),
]);
const envelope = { from: z.strictObject(identity), rumours: z.array(rumour).max(MAX_RUMOURS) };
const message = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ping'), seq: count, target: name, ...envelope }),
  z.strictObject({ type: z.literal('ack'), seq: count, ...envelope }),
  z.strictObject({ type: z.literal('nack'), seq: count, ...envelope }),
  z.strictObject({ type: z.literal('ping-req'), seq: count, target: name, targetAddress: name, ...envelope }),
  z.strictObject({ type: z.literal('gossip'), ...envelope }),
  z.strictObject({
    type: z.literal('sync'),
    reply: z.boolean(),
    members: z.array(z.strictObject({ ...identity, state })).max(MAX_MEMBERS),
    ...envelope,
  }),
]);

/** One message as bytes (MessagePack of `[version, message]`). */
export function encodeSwimMessage(value: SwimMessage): Uint8Array {
  return encode([VERSION, value]);
}

/**
 * The message in `bytes`: peers' input is checked in full before the state
 * machine sees it, and its MessagePack headers before anything is allocated
 * for them. Throws a DistCacheError `ERR_PROTOCOL` saying why when the bytes
 * are not a valid message of this version.
 */
export function decodeSwimMessage(bytes: Uint8Array): SwimMessage {
  if (bytes.byteLength > MAX_MESSAGE_BYTES) throw invalid(`${bytes.byteLength} bytes, over ${MAX_MESSAGE_BYTES}`);
  const violation = msgpackBoundsViolation(bytes, MAX_DEPTH);
  if (violation !== undefined) throw invalid(violation);
  let value: unknown;
  try {
    value = decode(bytes, { maxStrLength: 1024, maxArrayLength: MAX_MEMBERS, maxMapLength: 16, maxBinLength: 0 });
  } catch (error) {
    throw invalid((error as Error).message, error);
  }
  if (!Array.isArray(value) || value.length !== 2) throw invalid('not a [version, message] pair');
  if (value[0] !== VERSION) throw invalid(`wire version ${describeValue(value[0])}, not ${VERSION}`);
  const parsed = message.safeParse(value[1]);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(issue === undefined ? 'not a message' : `${issue.path.join('.')}: ${issue.message}`, parsed.error);
  }
  return parsed.data as SwimMessage;
}

function invalid(reason: string, cause?: unknown): DistCacheError {
  return new DistCacheError(ErrorCode.PROTOCOL, `SWIM message: ${reason}`, { cause });
}
