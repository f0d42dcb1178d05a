/**
 * What an architecture file (gpt2.ts, llama.ts) provides, and the context its forward pass
 * runs in. The context hides which weights train in this pass and where LoRA adapters sit, so
 * an architecture's forward reads like the paper's equations.
 */
import type * as tf from '@tensorflow/tfjs';
import type { TransformerConfig } from './config.js';
import type { LoraTarget } from './lora.js';

/** How a base parameter is initialised. */
export type ParamInit = { shape: number[]; init: 'normal'; std: number } | { shape: number[]; init: 'zeros' } | { shape: number[]; init: 'ones' };

/** A base projection `${name}.w` ([inDim, outDim]), optionally with bias `${name}.b`. */
export interface ProjectionDef {
  name: string;
  inDim: number;
  outDim: number;
  /** Which LoRA target (from the spec) covers this projection. */
  target: LoraTarget;
}

export interface ForwardShape {
  batch: number;
  seqLen: number;
  /** Non-pad length of each sequence (right padding), when known: the outputs of padded
   * positions are then unspecified (finite), as no real position and no loss depends on them. */
  lengths?: readonly number[];
}

export interface ForwardContext {
  readonly config: TransformerConfig;
  /** A base parameter by name. */
  param(name: string): tf.Tensor;
  /** x W (+ b) of base projection `name`, plus its LoRA branch if it has one. `x`: [rows, in]. */
  project(x: tf.Tensor2D, name: string): tf.Tensor2D;
  /** LayerNorm with gain `${name}.g` and bias `${name}.b`. */
  layerNorm(x: tf.Tensor2D, name: string): tf.Tensor2D;
  /** RMSNorm with gain `${name}.g`. */
  rmsNorm(x: tf.Tensor2D, name: string): tf.Tensor2D;
  /** Causal multi-head self-attention of `x` ([rows, dModel]) with the projections
   * `${prefix}.q`, `.k`, `.v` (each with its LoRA branch), optionally with rotary positions on
   * queries and keys, or ALiBi's linear distance penalties on the scores; [rows, dModel] before
   * the output projection. */
  selfAttention(x: tf.Tensor2D, prefix: string, shape: ForwardShape, options?: { rotary?: boolean; alibi?: boolean }): tf.Tensor2D;
  /** Rows of embedding table `name` at `ids`, plus, with `positions`, that table's rows at each
   * id's position in its sequence (learned positions; `ids` laid out [batch, seqLen]). */
  embed(name: string, ids: tf.Tensor1D, positions?: { table: string; seqLen: number }): tf.Tensor2D;
  /** h + y, a residual connection. */
  residual(h: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D;
  /** x E^T for embedding table `name` ([vocab, d]): the tied output layer. */
  unembed(x: tf.Tensor2D, name: string): tf.Tensor2D;
  /** A base matrix `name` used as a product weight outside LoRA (e.g. an untied output head). */
  matmul(x: tf.Tensor2D, name: string): tf.Tensor2D;
}

export interface Architecture {
  /** Every base parameter with its initialisation. */
  params(config: TransformerConfig): Record<string, ParamInit>;
  /** The projections LoRA may adapt. */
  projections(config: TransformerConfig): ProjectionDef[];
  /** Logits [batch * seqLen, vocab] for token ids [batch * seqLen] (model ids, row-major). */
  forward(ctx: ForwardContext, ids: tf.Tensor1D, shape: ForwardShape): tf.Tensor2D;
}
