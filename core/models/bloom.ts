/**
 * BLOOM (BigScience, 2022), pre-norm decoder with ALiBi positions (Press et al., 2022):
 *
 *   h_0 = LN_emb(E[x])                    no position table; a LayerNorm right after the embedding
 *   h   = h + Attn(LN_1(h))               causal multi-head attention, scores q.k / sqrt(hd) - m_h (i - j)
 *   h   = h + W_4h->h GELU(W_h->4h LN_2(h))
 *   logits = LN_f(h) E^T                  output layer tied to the token embedding
 *
 * The head slopes m_h are ALiBi's fixed geometric sequence (alibiSlopes in layers.ts): positions
 * enter only as a penalty on distant keys, so nothing is learned per position. The blocks, their
 * weights and their init are GPT-2's (gpt2.ts); BLOOM's fused query_key_value is written as
 * three projections, q, k and v, so that LoRA targets them as in the other architectures.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Architecture, ForwardContext, ForwardShape, ParamInit } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { gpt2, gpt2Blocks } from './gpt2.js';
import { gelu } from './layers.js';

/** GPT-2's weights (same blocks, same init) without its position table, plus the embedding LayerNorm. */
function params(c: TransformerConfig): Record<string, ParamInit> {
  const { wpe: _positionsComeFromALiBi, ...weights } = gpt2.params(c);
  return { ...weights, 'ln_emb.g': { shape: [c.dModel], init: 'ones' }, 'ln_emb.b': { shape: [c.dModel], init: 'zeros' } };
}

function forward(ctx: ForwardContext, ids: tf.Tensor1D, shape: ForwardShape): tf.Tensor2D {
  const h = ctx.layerNorm(ctx.embed('wte', ids), 'ln_emb');
  return ctx.unembed(ctx.layerNorm(gpt2Blocks(ctx, h, shape, gelu, { alibi: true }), 'ln_f'), 'wte');
}

export const bloom: Architecture = { params, projections: gpt2.projections, forward };
