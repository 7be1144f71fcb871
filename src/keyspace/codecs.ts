import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';

/**
 * Turns typed values into the bytes a keyspace stores, and back. A keyspace
 * with a codec takes and returns `T` in get/put and from its data source; a
 * keyspace without one works on `Uint8Array`.
 */
export interface Codec<T> {
  /** Shown in errors and stats. */
  readonly name: string;
  /** Encodes a value; may throw for values it cannot represent. */
  encode(value: T): Uint8Array;
  /** Decodes bytes produced by {@link encode}. */
  decode(bytes: Uint8Array): T;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** JSON text in UTF-8. `undefined` at the top level cannot be encoded. */
export const jsonCodec: Codec<unknown> = {
  name: 'json',
  encode(value) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`JSON cannot encode ${typeof value}`);
    return textEncoder.encode(text);
  },
  decode(bytes) {
    return JSON.parse(textDecoder.decode(bytes)) as unknown;
  },
};

/** MessagePack through @msgpack/msgpack: smaller than JSON, keeps binary fields as bytes. */
export const msgpackCodec: Codec<unknown> = {
  name: 'msgpack',
  encode(value) {
    return msgpackEncode(value);
  },
  decode(bytes) {
    return msgpackDecode(bytes);
  },
};
