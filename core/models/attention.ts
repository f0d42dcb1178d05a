/**
 * Causal self-attention: masks, ALiBi penalties, rotary tables, and the attention block in tfjs
 * ops (tensorflow and webgl backends); on CPU-side backends the JS kernel (attention-kernel.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { block } from './block.js';
import type { RopeScaling } from './spec.js';

/** Additive causal mask [t, t]: 0 where key <= query, a large negative number above the diagonal. */
export function causalMask(seqLen: number): tf.Tensor2D {
  const values = new Float32Array(seqLen * seqLen);
  for (let q = 0; q < seqLen; q++) for (let k = q + 1; k < seqLen; k++) values[q * seqLen + k] = -1e9;
  return tf.tensor2d(values, [seqLen, seqLen]);
}

/**
 * Rotary position tables for the rotate-half layout (dimension i pairs with i + headDim/2,
 * as in Hugging Face's LLaMA): angle(p, i) = p * theta^(-2i / headDim), each of cos and sin
 * repeated over both halves. Returns [seqLen, headDim] tensors.
 */
/**
 * ALiBi's head slopes m_h (Press et al., 2022): 2^(-8/n), 2^(-16/n), ... for n heads, n a power
 * of two; otherwise those of the power of two below n, then every other slope of the one above
 * (as BLOOM computes them).
 */
export function alibiSlopes(heads: number): Float32Array {
  const geometric = (n: number): number[] => Array.from({ length: n }, (_, i) => 2 ** ((-8 * (i + 1)) / n));
  const below = 2 ** Math.floor(Math.log2(heads));
  const slopes = geometric(below);
  if (below < heads)
    slopes.push(
      ...geometric(2 * below)
        .filter((_, i) => i % 2 === 0)
        .slice(0, heads - below),
    );
  return Float32Array.from(slopes);
}

/** The causal mask plus ALiBi's penalties -m_h (i - j) for query i and key j: [heads, t, t]. */
export function alibiMask(seqLen: number, slopes: Float32Array): tf.Tensor3D {
  const values = new Float32Array(slopes.length * seqLen * seqLen);
  slopes.forEach((m, h) => {
    for (let i = 0; i < seqLen; i++) for (let j = 0; j < seqLen; j++) values[(h * seqLen + i) * seqLen + j] = j <= i ? -m * (i - j) : -1e9;
  });
  return tf.tensor3d(values, [slopes.length, seqLen, seqLen]);
}

export function rotaryTables(seqLen: number, headDim: number, theta: number, scaling?: RopeScaling): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  if (headDim % 2 !== 0) throw new Error(`rotaryTables: head dimension ${headDim} must be even`);
  const half = headDim / 2;
  const frequencies = rotaryFrequencies(headDim, theta, scaling);
  const cos = new Float32Array(seqLen * headDim);
  const sin = new Float32Array(seqLen * headDim);
  for (let p = 0; p < seqLen; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * (frequencies[i] as number);
      cos[p * headDim + i] = cos[p * headDim + i + half] = Math.cos(angle);
      sin[p * headDim + i] = sin[p * headDim + i + half] = Math.sin(angle);
    }
  }
  return { cos: tf.tensor2d(cos, [seqLen, headDim]), sin: tf.tensor2d(sin, [seqLen, headDim]) };
}

/**
 * The rotation frequency of each pair i < headDim / 2: theta^(-2i / headDim), divided by the
 * factor of linear scaling, or under LLaMA-3.1's scaling divided by it for wavelengths above
 * originalMaxPositions / lowFreqFactor, kept below originalMaxPositions / highFreqFactor, and
 * blended in between.
 */
function rotaryFrequencies(headDim: number, theta: number, scaling?: RopeScaling): Float64Array {
  const out = new Float64Array(headDim / 2);
  for (let i = 0; i < out.length; i++) {
    const f = theta ** ((-2 * i) / headDim);
    if (!scaling) out[i] = f;
    else if (scaling.type === 'linear') out[i] = f / scaling.factor;
    else {
      const wavelength = (2 * Math.PI) / f;
      const lowWavelength = scaling.originalMaxPositions / scaling.lowFreqFactor;
      const highWavelength = scaling.originalMaxPositions / scaling.highFreqFactor;
      if (wavelength < highWavelength) out[i] = f;
      else if (wavelength > lowWavelength) out[i] = f / scaling.factor;
      else {
        const smooth = (scaling.originalMaxPositions / wavelength - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
        out[i] = (1 - smooth) * (f / scaling.factor) + smooth * f;
      }
    }
  }
  return out;
}

/**
 * rotateHalf as a product: x R = [-x2, x1] for x = [x1, x2] (halves of the head dimension).
 * A [headDim, headDim] signed permutation; its transpose is -R.
 */
export function rotateHalfMatrix(headDim: number): tf.Tensor2D {
  const half = headDim / 2;
  const r = new Float32Array(headDim * headDim);
  for (let i = 0; i < half; i++) {
    r[(i + half) * headDim + i] = -1;
    r[i * headDim + i + half] = 1;
  }
  return tf.tensor2d(r, [headDim, headDim]);
}

export interface AttentionShape {
  batch: number;
  seqLen: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (grouped-query attention, Ainslie et al. 2023): query head h reads key/value
   * head floor(h / (heads / kvHeads)), as Hugging Face's repeat_kv and llama2.c's run.c do.
   * Default: heads (multi-head attention). */
  kvHeads?: number | undefined;
}

/** Key/value heads of a shape and query heads per key/value head; refuses a count that does not divide. */
export function kvGrouping(s: AttentionShape): { kvHeads: number; group: number } {
  const kvHeads = s.kvHeads ?? s.heads;
  if (!Number.isInteger(kvHeads) || kvHeads < 1 || s.heads % kvHeads !== 0) {
    throw new Error(`attention: ${s.heads} query heads cannot share ${kvHeads} key/value heads evenly`);
  }
  return { kvHeads, group: s.heads / kvHeads };
}

/**
 * Rotary embedding for query and key heads: x cos + rotateHalf(x) sin, with rotateHalf(x) = x R.
 * The query tables carry the attention scale 1/sqrt(headDim).
 */
export interface RotaryInput {
  /** The tables' values, [t * hd] row-major (for the JS kernel). */
  cosValues: Float32Array;
  sinValues: Float32Array;
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  cosQ: tf.Tensor2D;
  sinQ: tf.Tensor2D;
  /** R and R^T (see rotateHalfMatrix). */
  r: tf.Tensor2D;
  rT: tf.Tensor2D;
}

/** [batch*t, heads*hd] -> [batch, heads, t, hd] */
function toHeads(x: tf.Tensor, s: AttentionShape): tf.Tensor4D {
  const headDim = x.shape[1] as number;
  return tf.transpose(tf.reshape(x, [s.batch, s.seqLen, s.heads, headDim / s.heads]), [0, 2, 1, 3]);
}

/** [batch, heads, t, hd] -> [batch*t, heads*hd] */
function fromHeads(x: tf.Tensor, s: AttentionShape): tf.Tensor2D {
  const headDim = x.shape[3] as number;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [s.batch * s.seqLen, s.heads * headDim]);
}

/** [batch, kvHeads, t, hd] -> [batch, kvHeads * group, t, hd], each head repeated `group` times in place. */
function repeatHeads(x: tf.Tensor4D, group: number): tf.Tensor4D {
  if (group === 1) return x;
  const [b, kv, t, hd] = x.shape;
  return tf.reshape(tf.tile(tf.reshape(x, [b, kv, 1, t, hd]), [1, 1, group, 1, 1]), [b, kv * group, t, hd]);
}

/** The gradient of repeatHeads: [batch, kvHeads * group, t, hd] summed over each group. */
function sumGroups(x: tf.Tensor4D, group: number): tf.Tensor4D {
  if (group === 1) return x;
  const [b, heads, t, hd] = x.shape;
  return tf.sum(tf.reshape(x, [b, heads / group, group, t, hd]), 2);
}

/** x cos + (x R) sin over heads [batch, heads, t, hd]; cos, sin: [t, hd]. */
function rotate(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D, r: tf.Tensor2D): tf.Tensor4D {
  const hd = x.shape[3];
  const xr = tf.reshape(tf.matMul(tf.reshape(x, [-1, hd]), r), x.shape);
  return tf.add(tf.mul(x, cos), tf.mul(xr, sin));
}

/**
 * Causal scaled dot-product attention of Vaswani et al. (2017) over [batch*t, heads*hd] queries
 * and [batch*t, kvHeads*hd] keys and values (optionally rotary-embedded, Su et al. 2021); returns
 * [batch*t, heads*hd]. With fewer key/value heads, keys and values are rotated once and repeated
 * over their group of query heads, and their gradients summed back over it.
 * Right padding needs no key mask: under the causal mask, real queries only see earlier (real)
 * keys, and padded query rows are excluded from every loss.
 *
 * Backward, with P = softmax(S), S = Q K^T / sqrt(hd) + mask (a constant: ALiBi's penalties, which
 * ride in it, change nothing below):
 *   dV = P^T dO,  dP = dO V^T,  dS = P (dP - rowsum(dP P)),  dQ = dS K / sqrt(hd),  dK = dS^T Q / sqrt(hd)
 * (through the rotation: d x = g cos + (g sin) R^T).
 */
export function causalSelfAttention(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  s: AttentionShape,
  /** Added to the scores: the causal mask [t, t], or with ALiBi the mask plus its penalties [heads, t, t]. */
  mask: tf.Tensor2D | tf.Tensor3D,
  rotary?: RotaryInput,
): tf.Tensor2D {
  const headDim = q.shape[1] / s.heads;
  const scale = 1 / Math.sqrt(headDim);
  const { kvHeads, group } = kvGrouping(s);
  const kvShape = { ...s, heads: kvHeads };
  return block([q, k, v], () => {
    let qh = toHeads(q, s);
    let kh = toHeads(k, kvShape);
    const vh = repeatHeads(toHeads(v, kvShape), group);
    if (rotary) {
      qh = rotate(qh, rotary.cosQ, rotary.sinQ, rotary.r);
      kh = rotate(kh, rotary.cos, rotary.sin, rotary.r);
    }
    kh = repeatHeads(kh, group);
    const product = tf.matMul(qh, kh, false, true);
    const p = tf.softmax(tf.add(rotary ? product : tf.mul(product, scale), mask));
    return {
      value: fromHeads(tf.matMul(p, vh), s),
      save: { qh, kh, vh, p },
      backward: (dy, saved) => {
        const doh = toHeads(dy, s);
        const pr = saved.p as tf.Tensor4D;
        const dp = tf.matMul(doh, saved.vh as tf.Tensor4D, false, true);
        const dScores = tf.mul(pr, tf.sub(dp, tf.sum(tf.mul(dp, pr), -1, true)));
        const dProduct = rotary ? dScores : tf.mul(dScores, scale);
        // g cos + (g sin) R^T; (g sin) R^T = (g R^T) sin since sin repeats over both halves
        const unrotate = (g: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D => (rotary ? rotate(g, cos, sin, rotary.rT) : g);
        return [
          () => fromHeads(unrotate(tf.matMul(dProduct, saved.kh as tf.Tensor4D), rotary?.cosQ as tf.Tensor2D, rotary?.sinQ as tf.Tensor2D), s),
          () =>
            fromHeads(
              unrotate(sumGroups(tf.matMul(dProduct, saved.qh as tf.Tensor4D, true, false), group), rotary?.cos as tf.Tensor2D, rotary?.sin as tf.Tensor2D),
              kvShape,
            ),
          () => fromHeads(sumGroups(tf.matMul(pr, doh, true, false), group), kvShape),
        ];
      },
    };
  });
}

/**
 * Whether the active backend computes in this thread's CPU (wasm, cpu): there the JS attention
 * kernel below beats tfjs's batched products, which wasm runs as a plain loop (about 11 ns per
 * output element plus 0.5 ns per multiply-add) over every pair, masked ones included.
 */
export function attentionRunsInJs(): boolean {
  const backend = tf.getBackend();
  return backend === 'wasm' || backend === 'cpu';
}

/** FLOPs (2 per multiply-add) the JS attention kernel has run so far, as counted by its loops. */
export const jsAttentionFlops = { total: 0 };

/** (query, key) pairs the JS kernel visits: key <= query < the sequence's length, per head. */
export function causalPairs(seqLen: number, lengths?: readonly number[], batch = lengths?.length ?? 1): number {
  let pairs = 0;
  for (let b = 0; b < batch; b++) {
    const len = lengths ? Math.min(lengths[b] as number, seqLen) : seqLen;
    pairs += (len * (len + 1)) / 2;
  }
  return pairs;
}
