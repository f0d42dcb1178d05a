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
import { project } from './layers.js';

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

export interface LoraPass {
  /** Whether A and B receive gradients in this pass. */
  train: boolean;
  /** Dropout on the adapter's input; 0 outside training. */
  dropout: number;
  /** Seed of this call's dropout mask. */
  dropoutSeed: number;
}

/**
 * Inverted dropout: x * mask, mask = 0 with probability `rate`, else 1 / (1 - rate). The mask
 * is drawn in JS from the seed; tf.dropout's own generator costs several kernels per call.
 */
export function dropout(x: tf.Tensor2D, rate: number, seed: number): tf.Tensor2D {
  const rng = new Random(seed);
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < rate ? 0 : keep;
  return tf.mul(x, tf.tensor2d(mask, x.shape));
}

/** (alpha / r) * dropout(x) A B. */
export function loraDelta(x: tf.Tensor2D, adapter: LoraAdapter, scale: number, pass: LoraPass): tf.Tensor2D {
  const input = pass.dropout > 0 ? dropout(x, pass.dropout, pass.dropoutSeed) : x;
  const down = project(input, adapter.a, pass.train);
  return tf.mul(project(down, adapter.b, pass.train), scale);
}

/** W + (alpha / r) A B: the base weight with the adapter folded in. */
export function mergeLora(w: tf.Tensor2D, adapter: LoraAdapter, scale: number): tf.Tensor2D {
  return tf.tidy(() => tf.add(w, tf.mul(tf.matMul(adapter.a, adapter.b), scale)));
}
