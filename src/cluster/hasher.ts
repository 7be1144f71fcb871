import xxhash from 'xxhash-wasm';

/** Hashes a string to a 64-bit integer; placement ranks nodes by it. Must be the same on every node. */
export interface Hasher {
  hash(input: string): bigint;
}

/** The default hasher: xxhash64 (xxhash-wasm), seed 0. Loaded once; the WASM module compiles asynchronously. */
export async function createXxhash64(): Promise<Hasher> {
  const { h64 } = await xxhash();
  return { hash: (input) => h64(input) };
}
