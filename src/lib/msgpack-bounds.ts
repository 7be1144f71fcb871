/**
 * Why `bytes` are not exactly one MessagePack value whose arrays and maps
 * that hold items nest at most `maxDepth` deep, each declaring no more items
 * than bytes are left (every item takes at least one byte); undefined when
 * they are. Reads headers only, never allocates per item, and never throws.
 *
 * A MessagePack decoder allocates each container's slots from its header,
 * before reading a single item: without this check, a few kilobytes of
 * headers that declare large arrays nested deep make it allocate gigabytes.
 * With it, the slots a decoder allocates are at most one per byte.
 */
export function msgpackBoundsViolation(bytes: Uint8Array, maxDepth: number): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  /** Items still to read in each open container; the first entry is the one top-level value. */
  const left: number[] = [1];
  let at = 0;
  while (left.length > 0) {
    if (left[left.length - 1] === 0) {
      left.pop();
      continue;
    }
    left[left.length - 1]!--;
    if (at >= end) return `cut short at byte ${at}`;
    const head = headOf(view, at, end);
    if (head === undefined) return `a header cut short or the unused byte 0xc1 at byte ${at}`;
    at += head.bytes;
    if (at > end) return `a value of ${head.bytes} bytes with ${end - at + head.bytes} left`;
    if (head.items === 0) continue;
    if (left.length > maxDepth) return `containers nested deeper than ${maxDepth}`;
    if (head.items > end - at) return `a container of ${head.items} items with ${end - at} bytes left`;
    left.push(head.items);
  }
  return at === end ? undefined : `${end - at} bytes after the value`;
}

/** A value's header: bytes up to its first item (a scalar's whole length), and items it contains. */
interface Head {
  readonly bytes: number;
  readonly items: number;
}

const scalar = (bytes: number): Head => ({ bytes, items: 0 });

/** The head of the value at `at`, or undefined for the never-used byte 0xc1 or a header cut short. */
function headOf(view: DataView, at: number, end: number): Head | undefined {
  const type = view.getUint8(at);
  if (type <= 0x7f || type >= 0xe0) return scalar(1); // fixint
  if (type <= 0x8f) return { bytes: 1, items: 2 * (type & 0x0f) }; // fixmap
  if (type <= 0x9f) return { bytes: 1, items: type & 0x0f }; // fixarray
  if (type <= 0xbf) return scalar(1 + (type & 0x1f)); // fixstr
  const length = (size: 1 | 2 | 4): number | undefined => {
    if (at + 1 + size > end) return undefined;
    return size === 1 ? view.getUint8(at + 1) : size === 2 ? view.getUint16(at + 1) : view.getUint32(at + 1);
  };
  const sized = (size: 1 | 2 | 4, extra: number): Head | undefined => {
    const n = length(size);
    return n === undefined ? undefined : scalar(1 + size + extra + n);
  };
  const container = (size: 2 | 4, perItem: 1 | 2): Head | undefined => {
    const n = length(size);
    return n === undefined ? undefined : { bytes: 1 + size, items: perItem * n };
  };
  switch (type) {
    case 0xc0: // nil
    case 0xc2: // false
    case 0xc3: // true
      return scalar(1);
    case 0xc4: // bin 8, 16, 32
      return sized(1, 0);
    case 0xc5:
      return sized(2, 0);
    case 0xc6:
      return sized(4, 0);
    case 0xc7: // ext 8, 16, 32: the length, then a type byte
      return sized(1, 1);
    case 0xc8:
      return sized(2, 1);
    case 0xc9:
      return sized(4, 1);
    case 0xca: // float 32, 64
      return scalar(5);
    case 0xcb:
      return scalar(9);
    case 0xcc: // uint 8..64, int 8..64
    case 0xd0:
      return scalar(2);
    case 0xcd:
    case 0xd1:
      return scalar(3);
    case 0xce:
    case 0xd2:
      return scalar(5);
    case 0xcf:
    case 0xd3:
      return scalar(9);
    case 0xd4: // fixext 1, 2, 4, 8, 16: a type byte and the data
      return scalar(3);
    case 0xd5:
      return scalar(4);
    case 0xd6:
      return scalar(6);
    case 0xd7:
      return scalar(10);
    case 0xd8:
      return scalar(18);
    case 0xd9: // str 8, 16, 32
      return sized(1, 0);
    case 0xda:
      return sized(2, 0);
    case 0xdb:
      return sized(4, 0);
    case 0xdc: // array 16, 32
      return container(2, 1);
    case 0xdd:
      return container(4, 1);
    case 0xde: // map 16, 32
      return container(2, 2);
    case 0xdf:
      return container(4, 2);
    default: // 0xc1: never used
      return undefined;
  }
}
