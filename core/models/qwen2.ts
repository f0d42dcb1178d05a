/**
 * Qwen2 (Yang et al., 2024): LLaMA's block (llama.ts: RMSNorm, rotary positions, SwiGLU,
 * grouped-query attention) with biases on the query, key and value projections:
 *
 *   q = W_q n + b_q,   k = W_k n + b_k,   v = W_v n + b_v
 *
 * The biases ride in the projections (ForwardContext.project adds `${name}.b` when it exists),
 * so the forward pass is LLaMA's.
 */
import type { Architecture, ParamInit } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { llama } from './llama.js';

function params(c: TransformerConfig): Record<string, ParamInit> {
  const out = llama.params(c);
  for (const proj of llama.projections(c)) {
    if (/\.attn\.[qkv]$/.test(proj.name)) out[`${proj.name}.b`] = { shape: [proj.outDim], init: 'zeros' };
  }
  return out;
}

export const qwen2: Architecture = { params, projections: llama.projections, forward: llama.forward };
