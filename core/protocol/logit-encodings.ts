/**
 * Compact wire forms of top-K logits and token ids (opt-in, see `EncodeOptions`).
 *
 * - `f16`: IEEE half floats, round to nearest even. Relative error at most 2^-11 for
 *   |x| >= 2^-14, absolute error at most 2^-25 below; |x| >= 65520 cannot be written.
 * - `q8`: per position, the log-softmax over its K entries, quantised to 8 bits with a
 *   per-position offset (the lowest log-probability) and step ((highest - lowest) / 255).
 *   Decoded values are log-probabilities, not the original logits: they differ by the
 *   position's log-sum-exp, which softmax ignores. Error of each decoded log-probability:
 *   at most step / 2 + 2^-22 * (1 + |lowest log-probability|).
 * - ids: the narrowest unsigned array holding every id (Uint8Array, Uint16Array), else Int32Array.
 */

/** Throws, naming the entry at `index`. */
export type InvalidValue = (index: number, problem: string) => never;

const FLOAT16_MAX_EXCLUSIVE_BITS = 0x477ff000; // 65520: rounds to Infinity in float16
const FLOAT16_MIN_NORMAL_BITS = 0x38800000; // 2^-14

export function encodeFloat16(values: Float32Array, invalid: InvalidValue): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i] as number;
    const sign = (b >>> 16) & 0x8000;
    const abs = b & 0x7fffffff;
    if (abs >= FLOAT16_MAX_EXCLUSIVE_BITS) {
      const v = values[i] as number;
      invalid(i, Number.isFinite(v) ? `= ${v} is outside the float16 range (|x| < 65520)` : `is ${v}`);
    }
    if (abs < FLOAT16_MIN_NORMAL_BITS) {
      // Subnormal half: a multiple of 2^-24, rounded half to even (reaching 0x400, the
      // smallest normal, is the correct encoding too).
      const q = Math.abs(values[i] as number) * 16777216;
      const floor = Math.floor(q);
      const rest = q - floor;
      out[i] = sign | (rest > 0.5 || (rest === 0.5 && (floor & 1) === 1) ? floor + 1 : floor);
    } else {
      let h = (abs - 0x38000000) >>> 13;
      const dropped = abs & 0x1fff;
      if (dropped > 0x1000 || (dropped === 0x1000 && (h & 1) === 1)) h++;
      out[i] = sign | h;
    }
  }
  return out;
}

let float16Table: Float32Array | undefined;

function float16ToFloat32Table(): Float32Array {
  if (float16Table) return float16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) t[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) t[h] = mantissa ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  float16Table = t;
  return t;
}

export function decodeFloat16(halves: Uint16Array): Float32Array {
  const table = float16ToFloat32Table();
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = table[halves[i] as number] as number;
  return out;
}

export interface QuantisedLogProbs {
  /** One byte per entry: log-probability = offset[position] + code * scale[position]. */
  codes: Uint8Array;
  /** Per position: the quantisation step. */
  scale: Float32Array;
  /** Per position: the lowest log-probability. */
  offset: Float32Array;
}

export function quantiseLogProbs(logits: Float32Array, topK: number, invalid: InvalidValue): QuantisedLogProbs {
  const positions = logits.length / topK;
  const codes = new Uint8Array(logits.length);
  const scale = new Float32Array(positions);
  const offset = new Float32Array(positions);
  for (let p = 0, base = 0; p < positions; p++, base += topK) {
    let highest = -Infinity;
    let lowest = Infinity;
    for (let j = base; j < base + topK; j++) {
      const v = logits[j] as number;
      if (v - v !== 0) invalid(j, `is ${v}`);
      if (v > highest) highest = v;
      if (v < lowest) lowest = v;
    }
    let sum = 0;
    for (let j = base; j < base + topK; j++) sum += Math.exp((logits[j] as number) - highest);
    const logSumExp = highest + Math.log(sum);
    const off = Math.fround(lowest - logSumExp);
    const step = Math.fround((highest - lowest) / 255);
    offset[p] = off;
    scale[p] = step;
    if (step === 0) continue; // all entries equal: every code is 0
    for (let j = base; j < base + topK; j++) {
      const code = Math.round(((logits[j] as number) - logSumExp - off) / step);
      codes[j] = code < 0 ? 0 : Math.min(code, 255);
    }
  }
  return { codes, scale, offset };
}

export function dequantiseLogProbs({ codes, scale, offset }: QuantisedLogProbs, topK: number): Float32Array {
  const out = new Float32Array(codes.length);
  for (let p = 0, base = 0; p < scale.length; p++, base += topK) {
    const step = scale[p] as number;
    const off = offset[p] as number;
    for (let j = base; j < base + topK; j++) out[j] = off + (codes[j] as number) * step;
  }
  return out;
}

/** Ids in the narrowest unsigned array that holds them all; Int32Array when one is negative. */
export function narrowIds(ids: Int32Array): Int32Array | Uint16Array | Uint8Array {
  let or = 0;
  for (let i = 0; i < ids.length; i++) or |= ids[i] as number;
  if (or < 0 || or > 0xffff) return ids;
  return or > 0xff ? new Uint16Array(ids) : new Uint8Array(ids);
}
