/**
 * GPT-2 (Radford et al., 2019), pre-norm decoder:
 *
 *   h_0 = E[x] + P[0..T)
 *   h   = h + Attn(LN_1(h))          causal multi-head self-attention
 *   h   = h + W_proj GELU(W_fc LN_2(h))
 *   logits = LN_f(h) E^T             output layer tied to the token embedding
 *
 * Weights are stored [in, out] (GPT-2's Conv1D layout). Init as GPT-2: N(0, 0.02), residual
 * output projections N(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm gain 1; except the tied token
 * embedding, N(0, 1/sqrt(d)): a logit is LN(h) . E[v] with |LN(h)| ~ sqrt(d), so 0.02 would cap
 * a small model's logits near 0 (d = 16: |logit| < 0.4), and a frozen base could never become
 * confident through LoRA. At d = 768 the two are of the same order (0.036 vs 0.02).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Architecture, ForwardContext, ForwardShape, ParamInit, ProjectionDef } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { gelu } from './layers.js';

function projections(c: TransformerConfig): ProjectionDef[] {
  const defs: ProjectionDef[] = [];
  for (let i = 0; i < c.layers; i++) {
    const p = `h.${i}`;
    defs.push(
      { name: `${p}.attn.q`, inDim: c.dModel, outDim: c.dModel, target: 'q' },
      { name: `${p}.attn.k`, inDim: c.dModel, outDim: c.dModel, target: 'k' },
      { name: `${p}.attn.v`, inDim: c.dModel, outDim: c.dModel, target: 'v' },
      { name: `${p}.attn.o`, inDim: c.dModel, outDim: c.dModel, target: 'o' },
      { name: `${p}.mlp.fc`, inDim: c.dModel, outDim: c.dFF, target: 'mlp' },
      { name: `${p}.mlp.proj`, inDim: c.dFF, outDim: c.dModel, target: 'mlp' },
    );
  }
  return defs;
}

function params(c: TransformerConfig): Record<string, ParamInit> {
  const std = 0.02;
  const residualStd = std / Math.sqrt(2 * c.layers);
  const out: Record<string, ParamInit> = {
    wte: { shape: [c.vocabSize, c.dModel], init: 'normal', std: 1 / Math.sqrt(c.dModel) },
    wpe: { shape: [c.maxSeqLen, c.dModel], init: 'normal', std: 0.01 },
  };
  for (const proj of projections(c)) {
    const isResidualOut = proj.name.endsWith('.attn.o') || proj.name.endsWith('.mlp.proj');
    out[`${proj.name}.w`] = { shape: [proj.inDim, proj.outDim], init: 'normal', std: isResidualOut ? residualStd : std };
    out[`${proj.name}.b`] = { shape: [proj.outDim], init: 'zeros' };
  }
  for (let i = 0; i < c.layers; i++) {
    for (const ln of ['ln_1', 'ln_2']) {
      out[`h.${i}.${ln}.g`] = { shape: [c.dModel], init: 'ones' };
      out[`h.${i}.${ln}.b`] = { shape: [c.dModel], init: 'zeros' };
    }
  }
  out['ln_f.g'] = { shape: [c.dModel], init: 'ones' };
  out['ln_f.b'] = { shape: [c.dModel], init: 'zeros' };
  return out;
}

/**
 * GPT-2's layers over the stream h: pre-norm attention (with ALiBi penalties when asked) and an
 * MLP with `activation`, each added back to h. BLOOM and OPT run the same blocks.
 */
export function gpt2Blocks(
  ctx: ForwardContext,
  h: tf.Tensor2D,
  shape: ForwardShape,
  activation: (x: tf.Tensor2D) => tf.Tensor2D,
  attention?: { alibi: boolean },
): tf.Tensor2D {
  for (let i = 0; i < ctx.config.layers; i++) {
    const p = `h.${i}`;
    const a = ctx.layerNorm(h, `${p}.ln_1`);
    const attn = ctx.selfAttention(a, `${p}.attn`, shape, attention);
    h = ctx.residual(h, ctx.project(attn, `${p}.attn.o`));

    const m = ctx.layerNorm(h, `${p}.ln_2`);
    h = ctx.residual(h, ctx.project(activation(ctx.project(m, `${p}.mlp.fc`)), `${p}.mlp.proj`));
  }
  return h;
}

/** GPT-2's forward pass with the MLP's `activation` (GELU for GPT-2, ReLU for OPT). */
export function gpt2Forward(ctx: ForwardContext, ids: tf.Tensor1D, shape: ForwardShape, activation: (x: tf.Tensor2D) => tf.Tensor2D): tf.Tensor2D {
  const h = ctx.embed('wte', ids, { table: 'wpe', seqLen: shape.seqLen });
  return ctx.unembed(ctx.layerNorm(gpt2Blocks(ctx, h, shape, activation), 'ln_f'), 'wte');
}

export const gpt2: Architecture = { params, projections, forward: (ctx, ids, shape) => gpt2Forward(ctx, ids, shape, gelu) };
