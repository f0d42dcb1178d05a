/**
 * One pass over an encoded message: its checksum, and the largest value of each typed array it
 * carries (float magnitudes, to find NaN and Infinity; token ids, to find ids out of range).
 *
 * The checksum is XXH64 with seed 0 (the xxHash specification) of the bytes, as its canonical
 * 8 bytes (big-endian), so any xxHash library, or `xxhsum -H1`, computes the same hex. It runs
 * natively (@node-rs/xxhash) over the message where it lies, at about 19 GB/s on one core
 * (docs/wire.md has the measurements against the other candidates).
 *
 * The maxima run in WebAssembly SIMD where the runtime has it, a portable loop otherwise; both
 * give the same answers. Wasm code reads only its own memory, so the arrays pass through a 1 MiB
 * scratch memory a chunk at a time, and each chunk is hashed just before it is copied: a large
 * message is read from memory once, the rest runs from cache.
 */
import { Xxh64, xxh64 } from '@node-rs/xxhash';
import { Code, I32, moduleBytes, V128, wasmGlobal } from '../wasm/emit.js';

/** `words` 32-bit words at byte `offset` (a multiple of 4) of the message, each masked with `mask`. */
export interface WordRange {
  offset: number;
  words: number;
  mask: number;
}

export interface MessageScan {
  /** The XXH64 checksum of the scanned bytes, canonical (big-endian). */
  checksum: Uint8Array;
  /** Per range: the largest masked word, unsigned (0 for an empty range). */
  largest: number[];
}

/** Masks of WordRange: a float's magnitude bits (>= 0x7f800000: NaN or Infinity) and a whole id. */
export const FLOAT_MAGNITUDE = 0x7fffffff;
export const WHOLE_WORD = 0xffffffff;
/** Magnitude bits of +Infinity: a float whose magnitude bits reach this is not finite. */
export const NON_FINITE_BITS = 0x7f800000;

export const CHECKSUM_BYTES = 8;

/** A checksum (or any bytes) as lowercase hex, for messages and comparisons. */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Checksum and range maxima of `bytes[0, end)`. */
export function scanMessage(bytes: Uint8Array, end: number, ranges: readonly WordRange[] = []): MessageScan {
  if (!Number.isSafeInteger(end) || end < 0 || end > bytes.length) {
    throw new RangeError(`scanMessage: end ${end} is outside the ${bytes.length} bytes`);
  }
  for (const { offset, words } of ranges) {
    if (offset % 4 !== 0 || offset < 0 || words < 0 || offset + 4 * words > end) {
      throw new RangeError(`scanMessage: ${words} words at byte ${offset} are not aligned words within the first ${end} bytes`);
    }
  }
  if (ranges.length === 0) return { checksum: canonical(xxh64(bytes.subarray(0, end))), largest: [] };
  const loops = scanLoops();
  return loops ? scanWithSimd(loops, bytes, end, ranges) : scanPortable(bytes, end, ranges);
}

/** The canonical form of an XXH64 value: its 8 bytes, most significant first. */
function canonical(hash: bigint): Uint8Array {
  const out = new Uint8Array(CHECKSUM_BYTES);
  new DataView(out.buffer).setBigUint64(0, hash, false);
  return out;
}

/**
 * The checksum of a message as it is written: `written(to)` hashes what is final so far while it
 * is still in cache, `finish(end)` the rest.
 */
export class ChecksumWriter {
  private hashed = 0;
  private readonly hash = new Xxh64();
  constructor(private readonly bytes: Uint8Array) {}

  /** Bytes [0, to) will not change. */
  written(to: number): void {
    if (to <= this.hashed) return;
    this.hash.update(this.bytes.subarray(this.hashed, to));
    this.hashed = to;
  }

  /** The checksum of bytes [0, end). */
  finish(end: number): Uint8Array {
    if (end < this.hashed) throw new RangeError(`ChecksumWriter: ${this.hashed} bytes were hashed as final, more than the ${end} to check`);
    this.written(end);
    return canonical(this.hash.digest());
  }
}

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD

interface ScanExports {
  largest(at: number, words: number, mask: number): number;
}

interface ScanLoops {
  exports: ScanExports;
  heap: Uint8Array;
}

const CHUNK = 1 << 20;
const PAGES = CHUNK / 65536;

let loops: ScanLoops | null | undefined;

function scanLoops(): ScanLoops | undefined {
  if (loops === undefined) {
    loops = null;
    if (wasmGlobal) {
      try {
        const memory = new wasmGlobal.Memory({ initial: PAGES });
        const instance = new wasmGlobal.Instance(new wasmGlobal.Module(scanModule()), { env: { memory } });
        loops = { exports: instance.exports as ScanExports, heap: new Uint8Array(memory.buffer) };
      } catch {
        loops = null; // no SIMD in this runtime
      }
    }
  }
  return loops ?? undefined;
}

/** Use the portable loops even where SIMD is available (tests compare the two). */
export function usePortableScan(portable: boolean): void {
  loops = portable ? null : undefined;
}

/** Hashes each chunk, then copies the part of it the ranges cover into the scan memory and takes their maxima. */
function scanWithSimd({ exports, heap }: ScanLoops, bytes: Uint8Array, end: number, ranges: readonly WordRange[]): MessageScan {
  const hash = new Xxh64();
  const largest = ranges.map(() => 0);
  for (let at = 0; at < end; at += CHUNK) {
    const chunk = bytes.subarray(at, Math.min(end, at + CHUNK));
    hash.update(chunk);
    let low = chunk.length;
    let high = 0;
    for (const { offset, words } of ranges) {
      const [start, stop] = [offset - at, offset + 4 * words - at];
      if (stop <= 0 || start >= chunk.length) continue;
      low = Math.min(low, Math.max(start, 0));
      high = Math.max(high, Math.min(stop, chunk.length));
    }
    if (low >= high) continue;
    heap.set(chunk.subarray(low, high), low);
    ranges.forEach((range, i) => {
      const start = Math.max(range.offset, at);
      const stop = Math.min(range.offset + 4 * range.words, at + chunk.length);
      if (start < stop) largest[i] = Math.max(largest[i] as number, exports.largest(start - at, (stop - start) >> 2, range.mask) >>> 0);
    });
  }
  return { checksum: canonical(hash.digest()), largest };
}

function scanModule(): Uint8Array {
  // largest(at, words, mask): max over the words of (word & mask), unsigned.
  const [at, words, mask, stop, maskV, best, bestV, x] = [0, 1, 2, 3, 4, 5, 6, 7];
  const largest = new Code();
  largest.get(at).get(words).i32(~3).op(0x71).i32(4).mul().add().set(stop);
  largest.get(mask).simd(17).set(maskV); // i32x4.splat
  largest.v128Zero().set(bestV);
  largest.op(0x02, 0x40, 0x03, 0x40);
  largest.get(at).get(stop).op(0x4f).op(0x0d, 1);
  largest.get(bestV).get(at).v128Load().get(maskV).simd(78).simd(185).set(bestV); // v128.and, i32x4.max_u
  largest.incConst(at, 16).op(0x0c, 0, 0x0b, 0x0b);
  largest.get(bestV).simd(27).op(0).set(best); // i32x4.extract_lane 0
  for (let lane = 1; lane < 4; lane++) largest.get(bestV).simd(27).op(lane).set(x).maxU(best, x);
  largest.get(stop).get(words).i32(3).op(0x71).i32(4).mul().add().set(stop);
  largest.op(0x02, 0x40, 0x03, 0x40);
  largest.get(at).get(stop).op(0x4f).op(0x0d, 1);
  largest.get(at).op(0x28, 2, 0).get(mask).op(0x71).set(x).maxU(best, x); // i32.load, i32.and
  largest.incConst(at, 4).op(0x0c, 0, 0x0b, 0x0b);
  largest.get(best);

  return moduleBytes([{ name: 'largest', params: [I32, I32, I32], locals: [I32, V128, I32, V128, I32], results: [I32], code: largest }]);
}

// ---------------------------------------------------------------------------------------------
// Portable loop

function scanPortable(bytes: Uint8Array, end: number, ranges: readonly WordRange[]): MessageScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const largest = ranges.map(({ offset, words, mask }) => {
    let best = 0;
    for (let k = 0; k < words; k++) best = Math.max(best, (view.getUint32(offset + 4 * k, true) & mask) >>> 0);
    return best;
  });
  return { checksum: canonical(xxh64(bytes.subarray(0, end))), largest };
}
