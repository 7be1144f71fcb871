import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DcMessageDecoder,
  DcProtocolError,
  encodeAddRequest,
  encodeMessage,
  MAX_MESSAGE_BYTES,
  MAX_SESSION_BYTES,
  Operation,
  parseAddRequest,
  Status,
} from '../../src/protocol/codec.js';
import { loadVectors } from '../helpers/vectors.js';

const vectors = { exchanges: loadVectors() };
const bytesOf = (frames: string[]) => Buffer.from(frames.join(''), 'hex');

/** Decodes `bytes` fed one byte at a time, as a slow network would deliver them. */
function decodeTrickled(bytes: Uint8Array) {
  const decoder = new DcMessageDecoder();
  const messages = [];
  for (let i = 0; i < bytes.byteLength; i++) messages.push(...decoder.push(bytes.subarray(i, i + 1)));
  return messages;
}

describe('distcache protocol codec against the captured vectors', () => {
  it(`has vectors to check (${vectors.exchanges.length} exchanges)`, () => {
    assert.ok(vectors.exchanges.length >= 30);
  });

  for (const exchange of vectors.exchanges) {
    it(`${exchange.kind} uid ${exchange.request_uid}: decodes to the annotated fields and re-encodes to the same bytes`, () => {
      const requestBytes = bytesOf(exchange.request_frames);
      const [request, ...extra] = decodeTrickled(requestBytes);
      assert.equal(extra.length, 0);
      assert.deepEqual(
        [request!.isResponse, request!.requestUid, request!.operation],
        [false, exchange.request_uid, Operation[exchange.operation]],
      );
      assert.deepEqual(encodeMessage(request!), requestBytes);

      if (exchange.operation === 'ADD') {
        const add = parseAddRequest(request!.data);
        assert.ok(add.ok);
        assert.deepEqual(
          [add.timeoutMs, add.id.byteLength, add.session.byteLength],
          [exchange.timeout_ms, exchange.id_len, exchange.session_len],
        );
        assert.deepEqual(Buffer.from(encodeAddRequest(add.timeoutMs, add.id, add.session)), Buffer.from(request!.data));
      } else {
        assert.equal(request!.data.byteLength, exchange.id_len);
      }

      const responseBytes = bytesOf(exchange.response_frames);
      const [response] = new DcMessageDecoder().push(responseBytes);
      assert.deepEqual(
        [response!.isResponse, response!.requestUid, response!.operation],
        [true, exchange.request_uid, Operation[exchange.operation]],
      );
      if (exchange.response.code !== undefined) assert.deepEqual([...response!.data], [exchange.response.code]);
      else assert.equal(response!.data.byteLength, exchange.response.session_len);
      assert.deepEqual(encodeMessage(response!), responseBytes);
    });
  }
});

describe('distcache protocol codec limits', () => {
  const valid = encodeMessage({ isResponse: false, requestUid: 7, operation: Operation.GET, data: new Uint8Array(10) });
  const corrupt = (offset: number, value: number) => {
    const bytes = Buffer.from(valid);
    bytes[offset] = value;
    return bytes;
  };
  const faultAt = (bytes: Uint8Array): { fault: string; at: number } => {
    const decoder = new DcMessageDecoder();
    for (let i = 0; i < bytes.byteLength; i++) {
      try {
        decoder.push(bytes.subarray(i, i + 1));
      } catch (error) {
        assert.ok(error instanceof DcProtocolError);
        return { fault: error.fault, at: i };
      }
    }
    return { fault: 'none', at: -1 };
  };

  it('refuses each bad header field as soon as its last byte arrives', () => {
    assert.deepEqual(faultAt(corrupt(1, 0x12)), { fault: 'incompatible', at: 1 });
    assert.deepEqual(faultAt(corrupt(4, 2)), { fault: 'corrupt', at: 4 });
    assert.deepEqual(faultAt(corrupt(9, 1)), { fault: 'corrupt', at: 9 });
    assert.deepEqual(faultAt(corrupt(10, 4)), { fault: 'corrupt', at: 10 });
    assert.deepEqual(faultAt(corrupt(11, 2)), { fault: 'corrupt', at: 11 });
    const long = corrupt(12, 0x08);
    long[13] = 0x01; // data_len 2049
    assert.deepEqual(faultAt(long), { fault: 'corrupt', at: 13 });
    assert.deepEqual(faultAt(corrupt(11, 0)), { fault: 'corrupt', at: 13 }, 'a non-final frame must carry 2048 bytes');
  });

  it('accepts a newer patch level of the same version', () => {
    assert.equal(new DcMessageDecoder().push(corrupt(3, 0x05)).length, 1);
  });

  it('refuses a 17th frame and a continuation frame that changes the request', () => {
    const big = encodeMessage({
      isResponse: false,
      requestUid: 1,
      operation: Operation.ADD,
      data: new Uint8Array(16 * 2048),
    });
    assert.equal(new DcMessageDecoder().push(big).length, 1);
    const seventeen = Buffer.from(big);
    seventeen[15 * 2062 + 11] = 0; // the 16th frame says "more follows"
    assert.deepEqual(faultAt(seventeen), { fault: 'corrupt', at: 15 * 2062 + 11 });
    const otherUid = Buffer.from(big);
    otherUid[2062 + 8] = otherUid[2062 + 8]! ^ 1;
    assert.deepEqual(faultAt(otherUid), { fault: 'corrupt', at: 2062 + 8 });
  });

  it('copies message data by default; with views, a one-frame message is a view into its chunk and a longer one a copy', () => {
    const short = encodeMessage({
      isResponse: false,
      requestUid: 7,
      operation: Operation.GET,
      data: Buffer.from('id-1'),
    });
    const long = encodeMessage({
      isResponse: false,
      requestUid: 8,
      operation: Operation.ADD,
      data: new Uint8Array(3000).fill(9),
    });
    const chunk = Buffer.concat([short, long]);
    const [copiedShort, copiedLong] = new DcMessageDecoder().push(chunk);
    const [viewShort, viewLong] = new DcMessageDecoder({ views: true }).push(chunk);
    chunk.fill(0); // the reader reuses its buffer
    assert.deepEqual(Buffer.from(copiedShort!.data).toString(), 'id-1');
    assert.deepEqual(copiedLong!.data, new Uint8Array(3000).fill(9));
    assert.deepEqual(viewShort!.data, new Uint8Array(4), 'a view sees the chunk change');
    assert.equal(viewShort!.data.buffer, chunk.buffer);
    assert.deepEqual(viewLong!.data, new Uint8Array(3000).fill(9), 'two frames are joined into a copy');
    for (const message of [copiedShort!, copiedLong!, viewShort!, viewLong!])
      assert.equal(Object.getPrototypeOf(message.data), Uint8Array.prototype);
  });

  it('with views, keeps its own copy of a message still incomplete when the reader reuses its buffer', () => {
    const message = encodeMessage({
      isResponse: false,
      requestUid: 9,
      operation: Operation.ADD,
      data: Uint8Array.from({ length: 3000 }, (_, i) => i % 251),
    });
    for (const split of [5, 20, 100, 2062, 2070, message.length - 1]) {
      const decoder = new DcMessageDecoder({ views: true });
      const reused = Buffer.alloc(message.length); // one read buffer, as a socket reading into a buffer of its own
      message.copy(reused, 0, 0, split);
      assert.deepEqual(decoder.push(reused.subarray(0, split)), []);
      reused.fill(0xee);
      message.copy(reused, 0, split);
      const [whole] = decoder.push(reused.subarray(0, message.length - split));
      assert.deepEqual(
        whole!.data,
        Uint8Array.from({ length: 3000 }, (_, i) => i % 251),
        `split at ${split}`,
      );
    }
  });

  describe("parses ADD with dc_server's checks, in its order", () => {
    const id = new Uint8Array(32).fill(1);
    /** ADD data with an id_len field that need not match the bytes after it. */
    const raw = (timeout: number, idLength: number, rest: number) => {
      const data = new Uint8Array(8 + rest).fill(7);
      new DataView(data.buffer).setUint32(0, timeout);
      new DataView(data.buffer).setUint32(4, idLength);
      return data;
    };
    const statusOf = (data: Uint8Array) => {
      const add = parseAddRequest(data);
      return add.ok ? 'ok' : add.status;
    };

    it('refuses data shorter than its 8-byte header as corrupt: the connection closes unanswered', () => {
      for (const length of [0, 1, 7]) {
        assert.throws(
          () => parseAddRequest(new Uint8Array(length)),
          (error) =>
            error instanceof DcProtocolError &&
            error.fault === 'corrupt' &&
            /shorter than its 8-byte header/.test(error.message),
        );
      }
    });

    it('checks the timeout first: over 7 days is TIMEOUT_RANGE, whatever follows', () => {
      assert.equal(statusOf(encodeAddRequest(604_800_001, id, new Uint8Array(5))), Status.TIMEOUT_RANGE);
      assert.equal(statusOf(raw(604_800_001, 0, 0)), Status.TIMEOUT_RANGE);
      assert.equal(statusOf(raw(0xffffffff, 1000, 3)), Status.TIMEOUT_RANGE);
      assert.equal(statusOf(encodeAddRequest(604_800_000, id, new Uint8Array(5))), 'ok');
    });

    it('then an id_len that reaches the end of the data (no session byte left) is CORRUPT, before the id range', () => {
      assert.equal(statusOf(raw(1000, 0, 0)), Status.CORRUPT, 'id_len 0 with nothing after it');
      assert.equal(statusOf(raw(1000, 4, 4)), Status.CORRUPT, 'the id takes every byte');
      assert.equal(statusOf(raw(1000, 60, 4)), Status.CORRUPT, 'id_len past the end');
      assert.equal(statusOf(raw(1000, 65, 10)), Status.CORRUPT, 'an oversized id_len past the end');
      assert.equal(statusOf(raw(1000, 0xffffffff, 10)), Status.CORRUPT);
      assert.equal(statusOf(encodeAddRequest(1000, id, new Uint8Array(0))), Status.CORRUPT, 'an empty session');
    });

    it('then an id of 0 or more than 64 bytes is ID_RANGE', () => {
      assert.equal(statusOf(raw(1000, 0, 5)), Status.ID_RANGE);
      assert.equal(statusOf(encodeAddRequest(1000, new Uint8Array(65), new Uint8Array(5))), Status.ID_RANGE);
      const longest = parseAddRequest(encodeAddRequest(1000, new Uint8Array(64).fill(9), Uint8Array.of(1)));
      assert.ok(longest.ok);
      assert.deepEqual([longest.id.byteLength, [...longest.session]], [64, [1]]);
    });

    it('then a session over 32768 bytes is DATA_RANGE (only reachable off the wire)', () => {
      assert.equal(statusOf(encodeAddRequest(1000, id, new Uint8Array(MAX_SESSION_BYTES))), 'ok');
      assert.equal(statusOf(encodeAddRequest(1000, id, new Uint8Array(MAX_SESSION_BYTES + 1))), Status.DATA_RANGE);
      const largestOnTheWire = encodeAddRequest(1000, Uint8Array.of(1), new Uint8Array(MAX_MESSAGE_BYTES - 9));
      assert.equal(largestOnTheWire.byteLength, MAX_MESSAGE_BYTES);
      assert.equal(statusOf(largestOnTheWire), 'ok');
    });
  });
});
