/**
 * LoRA (Hu et al., 2021): a frozen projection W gains a trainable low-rank update,
 *
 *   y = x W + (alpha / r) * dropout(x) A B,   A: [in, r], B: [r, out],
 *
 * with A drawn small and random (PEFT's kaiming-uniform bound 1/sqrt(in)) and B = 0, so a
 * fresh adapter leaves the model unchanged. Merging folds the update into W.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../random.js';
import type { LoraSpec } from './spec.js';

export type LoraTarget = LoraSpec['targets'][number];

export interface LoraAdapter {
  a: tf.Variable<tf.Rank.R2>;
  b: tf.Variable<tf.Rank.R2>;
}

/** Adapter tensor names for projection `name`, as stored in adapter.safetensors. */
export function adapterNames(projection: string): { a: string; b: string } {
  return { a: `${projection}.lora_a`, b: `${projection}.lora_b` };
}

export function loraScale(spec: LoraSpec): number {
  return spec.alpha / spec.rank;
}

/** Fresh adapter values: A ~ U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
export function initLoraValues(inDim: number, outDim: number, rank: number, rng: Random): { a: Float32Array; b: Float32Array } {
  const bound = 1 / Math.sqrt(inDim);
  const a = new Float32Array(inDim * rank);
  for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
  return { a, b: new Float32Array(rank * outDim) };
}

/**
 * Inverted dropout of the adapter's input with the LoRA scale folded in: each element
 * independently 0 with probability `rate`, else scale / (1 - rate), so that
 * dropout(x) * (alpha / r) = x * mask. The dropped elements are dropPositions(size, rate, seed).
 * Written into `out` when given.
 */
export function dropoutMask(
  size: number,
  rate: number,
  seed: number,
  scale = 1,
  out: Float32Array<ArrayBuffer> = new Float32Array(size),
): Float32Array<ArrayBuffer> {
  if (out.length !== size) throw new Error(`dropoutMask: ${out.length} floats for a mask of ${size}`);
  const dropped = dropPositions(size, rate, seed);
  out.fill(scale / (1 - rate));
  for (let i = 0; i < dropped.length; i++) out[dropped[i] as number] = 0;
  return out;
}

/**
 * The elements of `size` that dropout at `rate` drops, ascending: each independently with
 * probability `rate`, drawn by geometric gaps (the number of kept elements before the next
 * dropped one is Geometric(rate)), one draw of Random(seed) per dropped element instead of one
 * per element; the same distribution as elementwise Bernoulli draws.
 */
export function dropPositions(size: number, rate: number, seed: number): Int32Array {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return new Int32Array(0);
  const rng = new Random(seed);
  const logKeep = Math.log1p(-rate);
  const out: number[] = [];
  // gap = floor(ln U / ln(1 - rate)), U uniform in (0, 1]
  for (let i = Math.floor(Math.log(1 - rng.next()) / logKeep); i < size; i += 1 + Math.floor(Math.log(1 - rng.next()) / logKeep)) out.push(i);
  return Int32Array.from(out);
}

/** W + (alpha / r) A B: the base weight with the adapter folded in. */
export function mergeLora(w: tf.Tensor2D, adapter: LoraAdapter, scale: number): tf.Tensor2D {
  return tf.tidy(() => tf.add(w, tf.mul(tf.matMul(adapter.a, adapter.b), scale)));
}
