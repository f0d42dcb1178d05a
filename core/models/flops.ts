/**
 * Floating-point operations of one training step, counted from the products the implementation
 * actually runs (multiply-add = 2 FLOPs), for throughput figures:
 *
 *   forward    every projection 2 T in out, LoRA 2 T r (in + out), attention 4 T^2 d,
 *              output layer 2 T d V
 *   backward   input gradients of all of the above (same counts; attention twice: 8 T^2 d),
 *              plus weight gradients of the weights that train, and for full-weight training
 *              the one-hot embedding gradient 2 T V d
 *
 * Elementwise work (norms, activations, softmax) is not counted: it is what separates
 * achieved from peak.
 */
import type { TransformerConfig } from './config.js';
import { ARCHITECTURES } from './network.js';
import type { TrainedWeights } from './training.js';

/** FLOPs of a forward pass plus, when `trained` is given, its backward pass, over `tokens`
 * positions in sequences of length `seqLen` (tokens = batch * seqLen, padding included). */
export function stepFlops(config: TransformerConfig, tokens: number, seqLen: number, trained?: TrainedWeights): number {
  const targets = new Set(config.lora.targets);
  const r = config.lora.rank;
  let base = 0;
  let lora = 0;
  for (const p of ARCHITECTURES[config.arch].projections(config)) {
    base += 2 * tokens * p.inDim * p.outDim;
    if (targets.has(p.target)) lora += 2 * tokens * r * (p.inDim + p.outDim);
  }
  const attention = config.layers * 4 * tokens * seqLen * config.dModel;
  const head = 2 * tokens * config.dModel * config.vocabSize;
  const forward = base + lora + attention + head;
  if (!trained) return forward;
  const inputGrads = base + lora + 2 * attention + head;
  const weightGrads = trained === 'adapters' ? lora : base + head + 2 * tokens * config.vocabSize * config.dModel;
  return forward + inputGrads + weightGrads;
}
