/**
 * BLOOM (BigScience, 2022), pre-norm decoder with ALiBi positions (Press et al., 2022):
 *
 *   h_0 = LN_emb(E[x])                    no position table; a LayerNorm right after the embedding
 *   h   = h + Attn(LN_1(h))               causal multi-head attention, scores q.k / sqrt(hd) - m_h (i - j)
 *   h   = h + W_4h->h GELU(W_h->4h LN_2(h))
 *   logits = LN_f(h) E^T                  output layer tied to the token embedding
 *
 * The head slopes m_h are ALiBi's fixed geometric sequence (alibiSlopes in layers.ts): positions
 * enter only as a penalty on distant keys, so nothing is learned per position. BLOOM's fused
 * query_key_value is written as three projections, q, k and v, so that LoRA targets them as in
 * the other architectures. Init as gpt2.ts (the tied embedding N(0, 1/sqrt(d)), for the same
 * reason).
 */
import * as tf from '@tensorflow/tfjs';
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
    'ln_emb.g': { shape: [c.dModel], init: 'ones' },
    'ln_emb.b': { shape: [c.dModel], init: 'zeros' },
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

function forward(ctx: ForwardContext, ids: tf.Tensor1D, shape: ForwardShape): tf.Tensor2D {
  const c = ctx.config;
  let h = ctx.layerNorm(ctx.embed('wte', ids), 'ln_emb');

  for (let i = 0; i < c.layers; i++) {
    const p = `h.${i}`;
    const a = ctx.layerNorm(h, `${p}.ln_1`);
    const attn = ctx.selfAttention(a, `${p}.attn`, shape, { alibi: true });
    h = ctx.residual(h, ctx.project(attn, `${p}.attn.o`));

    const m = ctx.layerNorm(h, `${p}.ln_2`);
    h = ctx.residual(h, ctx.project(gelu(ctx.project(m, `${p}.mlp.fc`)), `${p}.mlp.proj`));
  }
  return ctx.unembed(ctx.layerNorm(h, 'ln_f'), 'wte');
}

export const bloom: Architecture = { params, projections, forward };
