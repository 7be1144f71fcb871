import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import type { SwimMessage } from './messages.js';

/** Largest encoded message: a full-state exchange of {@link MAX_MEMBERS} members fits. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Most members in one full-state exchange. */
export const MAX_MEMBERS = 16_384;
/** Most rumours on one message (the state machine sends at most 10). */
const MAX_RUMOURS = 64;

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
 * The message in `bytes`, or undefined when they are not a valid message of
 * this version: peers' input is checked in full before the state machine sees it.
 */
export function decodeSwimMessage(bytes: Uint8Array): SwimMessage | undefined {
  if (bytes.byteLength > MAX_MESSAGE_BYTES) return undefined;
  let value: unknown;
  try {
    value = decode(bytes, { maxStrLength: 1024, maxArrayLength: MAX_MEMBERS, maxMapLength: 16, maxBinLength: 0 });
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2 || value[0] !== VERSION) return undefined;
  const parsed = message.safeParse(value[1]);
  return parsed.success ? (parsed.data as SwimMessage) : undefined;
}
