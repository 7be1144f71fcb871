/** Bytes of one slab. */
const SLAB_BYTES = 64 * 1024;
/** Largest value carved from a slab; a bigger one gets a buffer of its own. */
const MAX_SLAB_VALUE_BYTES = 4 * 1024;

/**
 * Copies small values out of socket chunks into shared 64 KiB slabs, the way
 * Node pools small Buffers: V8 sweeps every young ArrayBuffer at each
 * scavenge, so an ArrayBuffer per remote read would lengthen every pause.
 *
 * A slab stays alive while any value carved from it does, so whatever keeps
 * values for long (the hot cache) keeps an exact copy instead.
 */
export class ValueSlab {
  #slab = new ArrayBuffer(0);
  #used = 0;

  /** A copy of `bytes`, in a shared slab when small. */
  copy(bytes: Uint8Array): Uint8Array {
    const length = bytes.byteLength;
    if (length > MAX_SLAB_VALUE_BYTES) return bytes.slice();
    if (this.#used + length > this.#slab.byteLength) {
      this.#slab = new ArrayBuffer(SLAB_BYTES);
      this.#used = 0;
    }
    const copy = new Uint8Array(this.#slab, this.#used, length);
    copy.set(bytes);
    this.#used += (length + 7) & ~7;
    return copy;
  }
}
