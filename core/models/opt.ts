/**
 * OPT (Zhang et al., 2022), pre-norm decoder as GPT-2 (gpt2.ts) with ReLU in the MLP:
 *
 *   h_0 = E[x] + P[0..T)                  learned positions
 *   h   = h + W_o Attn(LN_1(h))           q, k, v and o with biases
 *   h   = h + W_2 ReLU(W_1 LN_2(h))
 *   logits = LN_f(h) E^T                  output layer tied to the token embedding
 *
 * Hugging Face's OPT looks positions up two rows further into its table (a fairseq offset);
 * the loader drops those two rows (pretrained/hf-layouts.ts), so position p is row p here.
 * OPT-350m's post-norm blocks and projected embeddings are not this architecture.
 */
import * as tf from '@tensorflow/tfjs';
import type { Architecture } from './architecture.js';
import { gpt2, gpt2Forward } from './gpt2.js';

const relu = (x: tf.Tensor2D): tf.Tensor2D => tf.relu(x);

export const opt: Architecture = { params: gpt2.params, projections: gpt2.projections, forward: (ctx, ids, shape) => gpt2Forward(ctx, ids, shape, relu) };
