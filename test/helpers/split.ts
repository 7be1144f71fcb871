/** Splits `data` at the given cut points (taken modulo its length), as a network may deliver it. */
export function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (data.byteLength + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, data.byteLength]) {
    parts.push(data.subarray(from, point));
    from = point;
  }
  return parts;
}
