/**
 * One pass over an encoded message: its checksum, and the largest value of each typed array it
 * carries (float magnitudes, to find NaN and Infinity; token ids, to find ids out of range).
 * WebAssembly SIMD where the runtime has it, a portable loop otherwise; both give the same answers.
 *
 * The checksum, "lane sums" (8 bytes). Pad the n bytes with zeros to 16m bytes and read them as
 * little-endian u32 words w. For lanes l = 0..3 and blocks i = 0..m-1, in unsigned 64-bit arithmetic:
 *     A_l += w[4i + l];   B_l += A_l
 * Then fold: h = n; for v in A_0..A_3, B_0..B_3: h = (h ^ v) * 0x9e3779b97f4a7c15; h ^= h >> 31.
 * The checksum is h, little-endian.
 *
 * Like Fletcher's sums, these catch every error within one 32-bit word (its A_l changes), every
 * error in two words (A_l changes, or else B_l changes by e * distance, never 0 mod 2^64 for
 * messages under 16 GiB) and reordered blocks (B). The fold lets any other corruption through
 * with a probability of about 2^-64. In SIMD the sums run at about 30 GB/s on one core, where
 * zlib's CRC-32 runs at 6.5 GB/s.
 *
 * Wasm code reads only its own memory, so the message passes through a 1 MiB scratch memory a
 * chunk at a time: a warm copy costs a third of a fresh allocation's copy, and the checks of each
 * chunk run while it is in cache.
 */
import { Code, I32, I64, moduleBytes, V128, wasmGlobal } from '../wasm/emit.js';

/** `words` 32-bit words at byte `offset` (a multiple of 4) of the message, each masked with `mask`. */
export interface WordRange {
  offset: number;
  words: number;
  mask: number;
}

export interface MessageScan {
  /** The lane-sums checksum of the scanned bytes. */
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
  const loops = scanLoops();
  return loops ? scanWithSimd(loops, bytes, end, ranges) : scanPortable(bytes, end, ranges);
}

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD

interface ScanExports {
  sum(at: number, end: number, acc: number): void;
  finish(acc: number, lengthLow: number, lengthHigh: number, out: number): void;
  largest(at: number, words: number, mask: number): number;
}

const CHUNK = 1 << 20;
const ACC = CHUNK; // A_01, A_23, B_01, B_23 as four v128
const OUT = CHUNK + 64;
const PAGES = CHUNK / 65536 + 1;

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

function scanWithSimd(loops: ScanLoops, bytes: Uint8Array, end: number, ranges: readonly WordRange[]): MessageScan {
  const largest = ranges.map(() => 0);
  loops.heap.fill(0, ACC, ACC + 64);
  sumRange(loops, bytes, 0, end, ranges, largest);
  return { checksum: finishSums(loops, end), largest };
}

/**
 * The checksum of a message as it is written: `written(to)` sums what is final so far while it is
 * still in cache, `finish(end)` the rest. One at a time (the sums live in the scan's memory), which
 * holds because encoding is synchronous.
 */
export class ChecksumWriter {
  private summed = 0;
  private readonly loops = scanLoops();
  constructor(private readonly bytes: Uint8Array) {
    this.loops?.heap.fill(0, ACC, ACC + 64);
  }

  /** Bytes [0, to) will not change. */
  written(to: number): void {
    const whole = to - (to % 16);
    if (!this.loops || whole <= this.summed) return;
    sumRange(this.loops, this.bytes, this.summed, whole, [], []);
    this.summed = whole;
  }

  /** The checksum of bytes [0, end). */
  finish(end: number): Uint8Array {
    if (!this.loops) return scanPortable(this.bytes, end, []).checksum;
    sumRange(this.loops, this.bytes, this.summed, end, [], []);
    return finishSums(this.loops, end);
  }
}

interface ScanLoops {
  exports: ScanExports;
  heap: Uint8Array;
}

/** Adds bytes [from, to) to the sums (`from` a multiple of 16; zero padding after `to`) and the ranges' maxima. */
function sumRange({ exports, heap }: ScanLoops, bytes: Uint8Array, from: number, to: number, ranges: readonly WordRange[], largest: number[]): void {
  for (let at = from; at < to; at += CHUNK) {
    const n = Math.min(CHUNK, to - at);
    heap.set(bytes.subarray(at, at + n), 0);
    const padded = (n + 15) & ~15;
    heap.fill(0, n, padded);
    exports.sum(0, padded, ACC);
    ranges.forEach((range, i) => {
      const start = Math.max(range.offset, at);
      const stop = Math.min(range.offset + 4 * range.words, at + n);
      if (start < stop) largest[i] = Math.max(largest[i] as number, exports.largest(start - at, (stop - start) >> 2, range.mask) >>> 0);
    });
  }
}

function finishSums({ exports, heap }: ScanLoops, end: number): Uint8Array {
  exports.finish(ACC, end >>> 0, Math.floor(end / 2 ** 32), OUT);
  return heap.slice(OUT, OUT + CHECKSUM_BYTES);
}

const FOLD = 0x9e3779b97f4a7c15n;

function scanModule(): Uint8Array {
  // sum(at, end, acc): the lane sums over [at, end) (a multiple of 16), continuing those at acc.
  const [at, end, acc, a01, a23, b01, b23, w] = [0, 1, 2, 3, 4, 5, 6, 7];
  const sum = new Code();
  [a01, a23, b01, b23].forEach((local, k) => sum.get(acc).v128Load(16 * k).set(local));
  sum.op(0x02, 0x40, 0x03, 0x40);
  sum.get(at).get(end).op(0x4f).op(0x0d, 1); // at >= end (unsigned): leave
  sum.get(at).v128Load().set(w);
  sum.get(a01).get(w).simd(201).simd(206).tee(a01).get(b01).simd(206).set(b01); // i64x2.extend_low_i32x4_u, i64x2.add
  sum.get(a23).get(w).simd(202).simd(206).tee(a23).get(b23).simd(206).set(b23); // i64x2.extend_high_i32x4_u
  sum.incConst(at, 16).op(0x0c, 0, 0x0b, 0x0b);
  [a01, a23, b01, b23].forEach((local, k) => sum.get(acc).get(local).v128Store(16 * k));

  // finish(acc, lengthLow, lengthHigh, out): the fold, stored as i64 at out.
  const [sums, lengthLow, lengthHigh, out, h] = [0, 1, 2, 3, 4];
  const finish = new Code();
  finish.get(lengthHigh).op(0xad).i64(32n).op(0x86).get(lengthLow).op(0xad).op(0x84).set(h); // (hi << 32) | lo
  for (let k = 0; k < 8; k++) {
    finish.get(h).get(sums).op(0x29, 3, 8 * k).op(0x85).i64(FOLD).op(0x7e).set(h); // h = (h ^ v) * K
    finish.get(h).get(h).i64(31n).op(0x88).op(0x85).set(h); // h ^= h >> 31
  }
  finish.get(out).get(h).op(0x37, 3, 0);

  // largest(at, words, mask): max over the words of (word & mask), unsigned.
  const [, words, mask, stop, maskV, best, bestV, x] = [0, 1, 2, 3, 4, 5, 6, 7];
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

  return moduleBytes([
    { name: 'sum', params: [I32, I32, I32], locals: [V128, V128, V128, V128, V128], code: sum },
    { name: 'finish', params: [I32, I32, I32, I32], locals: [I64], code: finish },
    { name: 'largest', params: [I32, I32, I32], locals: [I32, V128, I32, V128, I32], results: [I32], code: largest },
  ]);
}

// ---------------------------------------------------------------------------------------------
// Portable loops: the same sums with 64-bit values as pairs of u32 numbers

function scanPortable(bytes: Uint8Array, end: number, ranges: readonly WordRange[]): MessageScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const word = (k: number): number => {
    const at = 4 * k;
    if (at + 4 <= end) return view.getUint32(at, true);
    let value = 0;
    for (let b = 0; b < 4 && at + b < end; b++) value |= (bytes[at + b] as number) << (8 * b);
    return value >>> 0;
  };
  const aLow = [0, 0, 0, 0];
  const aHigh = [0, 0, 0, 0];
  const bLow = [0, 0, 0, 0];
  const bHigh = [0, 0, 0, 0];
  const blocks = Math.ceil(end / 16);
  for (let i = 0; i < blocks; i++) {
    for (let l = 0; l < 4; l++) {
      const a = (aLow[l] as number) + word(4 * i + l);
      aLow[l] = a >>> 0;
      aHigh[l] = ((aHigh[l] as number) + (a > 0xffffffff ? 1 : 0)) >>> 0;
      const b = (bLow[l] as number) + (aLow[l] as number);
      bLow[l] = b >>> 0;
      bHigh[l] = ((bHigh[l] as number) + (aHigh[l] as number) + (b > 0xffffffff ? 1 : 0)) >>> 0;
    }
  }
  const mask64 = (1n << 64n) - 1n;
  let h = BigInt(end);
  for (let k = 0; k < 8; k++) {
    const [low, high] = k < 4 ? [aLow[k] as number, aHigh[k] as number] : [bLow[k - 4] as number, bHigh[k - 4] as number];
    h = ((h ^ ((BigInt(high) << 32n) | BigInt(low))) * FOLD) & mask64;
    h ^= h >> 31n;
  }
  const checksum = new Uint8Array(CHECKSUM_BYTES);
  new DataView(checksum.buffer).setBigUint64(0, h, true);
  const largest = ranges.map(({ offset, words, mask }) => {
    let best = 0;
    for (let k = 0; k < words; k++) best = Math.max(best, (view.getUint32(offset + 4 * k, true) & mask) >>> 0);
    return best;
  });
  return { checksum, largest };
}
