/**
 * Transformer building blocks shared by the architectures, written for the wasm backend:
 *
 * - Products use explicit transposes inside `tf.customGrad`: tfjs's default matMul gradient
 *   multiplies with transpose flags, which the wasm backend runs about 13x slower than a
 *   transpose followed by a plain product.
 * - The embedding lookup has its own gradient: wasm has no UnsortedSegmentSum kernel, so
 *   `tf.gather` cannot be differentiated there.
 * - A frozen weight is not an input of the custom op, so backprop never computes (and then
 *   discards) its gradient. Tensors the gradient needs go through `save`, never a closure:
 *   an enclosing tidy may dispose them before backprop runs.
 *
 * Activations are row-major `[rows, features]` with rows = batch * time.
 */
import * as tf from '@tensorflow/tfjs';

/** y = x W, gradients to both x and W. `x`: [n, in], `w`: [in, out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, wIn, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([xIn, wIn]);
    return {
      value: tf.matMul(xIn, wIn),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        return [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g)];
      },
    };
  });
  return op(x, w) as tf.Tensor2D;
}

/** y = x W with W held constant: the gradient flows to x only. */
export function frozenLinear(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    // Saved, not closed over: `w` may be an intermediate (a transposed table) that the
    // enclosing tidy disposes before backprop runs.
    save([w]);
    return {
      value: tf.matMul(xIn, w),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.matMul(dy as tf.Tensor2D, tf.transpose(saved[0] as tf.Tensor2D)),
    };
  });
  return op(x) as tf.Tensor2D;
}

/** `linear` or `frozenLinear`, by whether the weight trains in this pass. */
export function project(x: tf.Tensor2D, w: tf.Tensor2D, trainWeight: boolean): tf.Tensor2D {
  return trainWeight ? linear(x, w) : frozenLinear(x, w);
}

/**
 * Rows of `table` ([vocab, d]) at `ids` ([n] int32). When `trainTable` is set, the gradient is
 * the scatter-add of dy into the table rows, computed as onehot(ids)^T dy with the one-hot
 * built directly in its transposed [vocab, n] layout.
 */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor1D, trainTable: boolean): tf.Tensor2D {
  if (!trainTable) return tf.gather(table, ids);
  const vocab = table.shape[0];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [t, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([ids]);
    return {
      value: tf.gather(t, ids),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const savedIds = saved[0] as tf.Tensor1D;
        const rowsOfIds = tf.cast(tf.equal(tf.range(0, vocab, 1, 'int32').reshape([vocab, 1]), savedIds.reshape([1, -1])), 'float32');
        return tf.matMul(rowsOfIds as tf.Tensor2D, dy as tf.Tensor2D);
      },
    };
  });
  return op(table) as tf.Tensor2D;
}

/** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * gain + bias. */
export function layerNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), gain), bias);
}

/** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * gain. */
export function rmsNorm(x: tf.Tensor2D, gain: tf.Tensor1D, eps: number): tf.Tensor2D {
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), gain);
}

const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * GPT-2's GELU, tanh approximation: 0.5 x (1 + tanh(c (x + 0.044715 x^3))). Written with the
 * identity 0.5 (1 + tanh z) = sigmoid(2z), which is exact and about 8x cheaper on wasm.
 */
export function gelu(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), 2 * GELU_C);
  return tf.mul(x, tf.sigmoid(inner));
}

/** SiLU (swish): x * sigmoid(x). */
export function silu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(x, tf.sigmoid(x));
}

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
export function rotaryTables(seqLen: number, headDim: number, theta: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  if (headDim % 2 !== 0) throw new Error(`rotaryTables: head dimension ${headDim} must be even`);
  const half = headDim / 2;
  const cos = new Float32Array(seqLen * headDim);
  const sin = new Float32Array(seqLen * headDim);
  for (let p = 0; p < seqLen; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(theta, (-2 * i) / headDim);
      cos[p * headDim + i] = cos[p * headDim + i + half] = Math.cos(angle);
      sin[p * headDim + i] = sin[p * headDim + i + half] = Math.sin(angle);
    }
  }
  return { cos: tf.tensor2d(cos, [seqLen, headDim]), sin: tf.tensor2d(sin, [seqLen, headDim]) };
}

/** x * cos + rotateHalf(x) * sin, with rotateHalf([a, b]) = [-b, a]. `x`: [..., seqLen, headDim]. */
export function applyRotary(x: tf.Tensor3D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor3D {
  const half = x.shape[2] / 2;
  const [a, b] = tf.split(x, [half, half], 2);
  const rotated = tf.concat([tf.neg(b as tf.Tensor), a as tf.Tensor], 2);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

export interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
}

/** [batch*t, heads*hd] -> [batch*heads, t, hd] */
export function splitHeads(x: tf.Tensor2D, s: AttentionShape): tf.Tensor3D {
  const headDim = x.shape[1] / s.heads;
  return tf
    .transpose(tf.reshape(x, [s.batch, s.seqLen, s.heads, headDim]), [0, 2, 1, 3])
    .reshape([s.batch * s.heads, s.seqLen, headDim]);
}

/** [batch*heads, t, hd] -> [batch*t, heads*hd] */
export function mergeHeads(x: tf.Tensor3D, s: AttentionShape): tf.Tensor2D {
  const headDim = x.shape[2];
  return tf
    .transpose(tf.reshape(x, [s.batch, s.heads, s.seqLen, headDim]), [0, 2, 1, 3])
    .reshape([s.batch * s.seqLen, s.heads * headDim]);
}

/**
 * Causal scaled dot-product attention over head-split tensors [batch*heads, t, hd].
 * Right padding needs no key mask: under the causal mask, real queries only see earlier
 * (real) keys, and padded query rows are excluded from every loss.
 */
export function causalAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor3D {
  const headDim = q.shape[2];
  const scaledQ = tf.mul(q, 1 / Math.sqrt(headDim));
  const scores = tf.add(tf.matMul(scaledQ, tf.transpose(k, [0, 2, 1])), mask);
  return tf.matMul(tf.softmax(scores), v);
}
