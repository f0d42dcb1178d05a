/**
 * LLaMA (Touvron et al., 2023), pre-norm decoder without biases:
 *
 *   h_0 = E[x]
 *   h   = h + W_o Attn(RoPE(W_q n), RoPE(W_k n), W_v n),   n = RMSNorm_attn(h)
 *   h   = h + W_down (SiLU(W_gate m) * W_up m),              m = RMSNorm_mlp(h)
 *   logits = RMSNorm(h) W_head                                untied head, or E^T when tied
 *
 * Rotary positions use the rotate-half layout of Hugging Face's implementation (a llama2.c
 * checkpoint's interleaved pairs are permuted into it when loaded: pretrained/llama2c.ts). With
 * grouped-query attention (Ainslie et al., 2023) W_k and W_v have kvHeads heads, each serving
 * heads / kvHeads query heads.
 * Weights are stored [in, out]. Init N(0, 0.02), RMSNorm gain 1; the output head N(0, 1/d), so
 * that with |RMSNorm(h)| ~ sqrt(d) a random small model's logits are O(1) rather than capped
 * near 0 (see gpt2.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Architecture, ForwardContext, ForwardShape, ParamInit, ProjectionDef } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { swiglu } from './layers.js';

function projections(c: TransformerConfig): ProjectionDef[] {
  const defs: ProjectionDef[] = [];
  const kvWidth = (c.dModel / c.heads) * c.kvHeads;
  for (let i = 0; i < c.layers; i++) {
    const p = `layers.${i}`;
    defs.push(
      { name: `${p}.attn.q`, inDim: c.dModel, outDim: c.dModel, target: 'q' },
      { name: `${p}.attn.k`, inDim: c.dModel, outDim: kvWidth, target: 'k' },
      { name: `${p}.attn.v`, inDim: c.dModel, outDim: kvWidth, target: 'v' },
      { name: `${p}.attn.o`, inDim: c.dModel, outDim: c.dModel, target: 'o' },
      { name: `${p}.mlp.gate`, inDim: c.dModel, outDim: c.dFF, target: 'mlp' },
      { name: `${p}.mlp.up`, inDim: c.dModel, outDim: c.dFF, target: 'mlp' },
      { name: `${p}.mlp.down`, inDim: c.dFF, outDim: c.dModel, target: 'mlp' },
    );
  }
  return defs;
}

function params(c: TransformerConfig): Record<string, ParamInit> {
  const std = 0.02;
  const out: Record<string, ParamInit> = {
    embed: { shape: [c.vocabSize, c.dModel], init: 'normal', std },
  };
  for (const proj of projections(c)) out[`${proj.name}.w`] = { shape: [proj.inDim, proj.outDim], init: 'normal', std };
  for (let i = 0; i < c.layers; i++) {
    out[`layers.${i}.attn_norm.g`] = { shape: [c.dModel], init: 'ones' };
    out[`layers.${i}.mlp_norm.g`] = { shape: [c.dModel], init: 'ones' };
  }
  out['norm.g'] = { shape: [c.dModel], init: 'ones' };
  if (!c.tieEmbeddings) out['lm_head.w'] = { shape: [c.dModel, c.vocabSize], init: 'normal', std: 1 / c.dModel };
  return out;
}

function forward(ctx: ForwardContext, ids: tf.Tensor1D, shape: ForwardShape): tf.Tensor2D {
  const c = ctx.config;
  let h = ctx.embed('embed', ids);
  for (let i = 0; i < c.layers; i++) {
    const p = `layers.${i}`;
    const n = ctx.rmsNorm(h, `${p}.attn_norm`);
    const attn = ctx.selfAttention(n, `${p}.attn`, shape, { rotary: true });
    h = ctx.residual(h, ctx.project(attn, `${p}.attn.o`));

    const m = ctx.rmsNorm(h, `${p}.mlp_norm`);
    h = ctx.residual(h, ctx.project(swiglu(ctx.project(m, `${p}.mlp.gate`), ctx.project(m, `${p}.mlp.up`)), `${p}.mlp.down`));
  }
  const n = ctx.rmsNorm(h, 'norm');
  return c.tieEmbeddings ? ctx.unembed(n, 'embed') : ctx.matmul(n, 'lm_head.w');
}

export const llama: Architecture = { params, projections, forward };
