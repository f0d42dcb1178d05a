/**
 * Floating-point operations of one training step, counted from the products the implementation
 * actually runs (multiply-add = 2 FLOPs), for throughput figures. With T positions (padding
 * included) in sequences of length S:
 *
 *   forward    every projection 2 T in out, its LoRA branch 2 T r (in + out), attention
 *              Q K^T and P V over all heads, output layer 2 T d V; an attention product is
 *              2 T S d over all (query, key) pairs, or 2 P d over the causal pairs of real
 *              queries (P = sum over sequences of L (L + 1) / 2, L = S without lengths) when
 *              the JS kernel runs it (wasm and cpu backends, see layers.ts)
 *   backward   only what backprop asks for (layers.ts: gradients are per input and lazy):
 *              - a projection whose output depends on trained weights: dU = dy B^T (2 T out r)
 *                when adapted; the input gradient (2 T in out, plus 2 T r in through LoRA)
 *                only when its input depends on trained weights; the gradients of trained
 *                weights (W: 2 T in out; A and B: 2 T r (in + out))
 *              - attention: one product per input (Q, K, V) that depends on trained weights,
 *                and dP = dO V^T (with tfjs ops whenever attention's backward runs, in the JS
 *                kernel only when Q or K needs a gradient)
 *              - the output layer's input gradient (2 T d V), for full-weight training its
 *                weight gradient (2 T d V) and the one-hot embedding gradient (2 T V d)
 *
 * When only adapters train, the embedding and so the first layer's q, k and v inputs depend on
 * nothing trained: their input gradients are never computed, and neither is any gradient
 * upstream of the first adapted projection.
 *
 * Not counted: elementwise work (norms, activations, softmax), which is what separates achieved
 * from peak; and products that run but multiply structural zeros or only permute
 * (uncountedFlops): the zero blocks of qkvDense's block-diagonal adapter products (when the base
 * is frozen the q, k, v projections run as one block), and LLaMA's rotate-half with tfjs
 * attention, a product with a signed permutation matrix.
 */
import type { ProjectionDef } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { attentionRunsInJs, causalPairs } from './layers.js';
import { ARCHITECTURES } from './network.js';
import { isRotaryArch } from './spec.js';

/** Which weights an optimisation trains; the others stay bit-identical. */
export type TrainedWeights = 'adapters' | 'base';

/** FLOPs of a forward pass plus, when `trained` is given, its backward pass, over `tokens`
 * positions in sequences of length `seqLen` (tokens = batch * seqLen, padding included), the
 * sequences' real lengths given when the forward pass was given them (ForwardShape). */
export function stepFlops(config: TransformerConfig, tokens: number, seqLen: number, trained?: TrainedWeights, lengths?: readonly number[]): number {
  const T = tokens;
  const r = config.lora.rank;
  const targets = new Set(config.lora.targets);
  const trainsBase = trained === 'base';
  const trainsAdapters = trained === 'adapters';
  let flops = 0;

  /** One projection; returns whether its output depends on trained weights. */
  const project = (p: ProjectionDef, inputCarries: boolean): boolean => {
    const adapted = targets.has(p.target);
    const base = 2 * T * p.inDim * p.outDim;
    const loraIn = 2 * T * p.inDim * r;
    const loraOut = 2 * T * r * p.outDim;
    flops += base + (adapted ? loraIn + loraOut : 0);
    const adapterTrains = adapted && trainsAdapters;
    const carries = inputCarries || adapterTrains || trainsBase;
    if (trained && carries) {
      if (adapted) flops += loraOut; // dU
      if (inputCarries) flops += base + (adapted ? loraIn : 0); // dx
      if (trainsBase) flops += base; // dW
      if (adapterTrains) flops += loraIn + loraOut; // dA, dB
    }
    return carries;
  };

  const projections = ARCHITECTURES[config.arch].projections(config);
  const perLayer = projections.length / config.layers;
  const js = attentionRunsInJs();
  const attentionProduct = js ? 2 * causalPairs(seqLen, lengths, T / seqLen) * config.dModel : 2 * T * seqLen * config.dModel;
  // whether the residual stream depends on trained weights (from the start when the embedding trains)
  let stream = trainsBase;
  for (let layer = 0; layer < config.layers; layer++) {
    const defs = projections.slice(layer * perLayer, (layer + 1) * perLayer);
    // q, k, v read the normalised stream; o reads the attention; the last MLP projection reads
    // the activation, the others the normalised stream
    const carries = new Map(defs.filter((p) => p.target === 'q' || p.target === 'k' || p.target === 'v').map((p) => [p.target, project(p, stream)]));
    flops += 2 * attentionProduct;
    let attention = [...carries.values()].some(Boolean);
    if (trained && attention) {
      const dP = js ? Boolean(carries.get('q') || carries.get('k')) : true;
      flops += attentionProduct * ((dP ? 1 : 0) + [...carries.values()].filter(Boolean).length);
    }
    for (const p of defs.filter((d) => d.target === 'o')) attention = project(p, attention);
    stream ||= attention;
    const mlp = defs.filter((p) => p.target === 'mlp');
    let activation = mlp
      .slice(0, -1)
      .map((p) => project(p, stream))
      .some(Boolean);
    for (const p of mlp.slice(-1)) activation = project(p, activation);
    stream ||= activation;
  }
  const head = 2 * T * config.dModel * config.vocabSize;
  flops += head;
  if (trained && stream) flops += head; // input gradient
  if (trainsBase) flops += head + 2 * T * config.vocabSize * config.dModel; // output weights, embedding
  return flops;
}

/**
 * FLOPs of the products a step runs that stepFlops leaves out: per layer, when q, k and v run as
 * one block (frozen base, all three adapted) its block-diagonal products u diag(B), dy diag(B)^T
 * and (for trained adapters) dy^T u each multiply the zero blocks of diag(B), two [r, out] blocks
 * per projection (4 T r (out_q + out_k + out_v) FLOPs, 12 T r out without grouped-query attention);
 * with tfjs attention (not the JS kernel), LLaMA's rotate-half of queries and keys, 2 T d hd each,
 * forward and backward.
 */
export function uncountedFlops(config: TransformerConfig, tokens: number, _seqLen: number, trained?: TrainedWeights): number {
  const T = tokens;
  const r = config.lora.rank;
  const targets = new Set(config.lora.targets);
  const trainsBase = trained === 'base';
  const trainsAdapters = trained === 'adapters';
  const fused = !trainsBase && targets.has('q') && targets.has('k') && targets.has('v');
  const projections = ARCHITECTURES[config.arch].projections(config);
  const perLayer = projections.length / config.layers;
  let flops = 0;
  // whether the residual stream depends on trained weights, as in stepFlops
  let stream = trainsBase;
  for (let layer = 0; layer < config.layers; layer++) {
    const defs = projections.slice(layer * perLayer, (layer + 1) * perLayer);
    const carries = (target: 'q' | 'k' | 'v'): boolean => stream || trainsBase || (trainsAdapters && targets.has(target));
    if (fused) {
      // each of the three row blocks of diag(B) is zero outside its own columns: 2 r (q + k + v widths)
      const width = defs.filter((p) => p.target === 'q' || p.target === 'k' || p.target === 'v').reduce((n, p) => n + p.outDim, 0);
      const zeros = 4 * T * r * width;
      flops += zeros; // u diag(B)
      if (trained && carries('q')) flops += zeros; // dy diag(B)^T
      if (trainsAdapters) flops += zeros; // dy^T u
    }
    if (isRotaryArch(config.arch) && !attentionRunsInJs()) {
      const hd = config.dModel / config.heads;
      const rotateQ = 2 * T * config.dModel * hd;
      const rotateK = 2 * T * config.kvHeads * hd * hd;
      flops += rotateQ + rotateK;
      if (trained && (carries('q') || carries('k') || carries('v'))) flops += (carries('q') ? rotateQ : 0) + (carries('k') ? rotateK : 0);
    }
    stream ||= trainsAdapters && defs.some((p) => targets.has(p.target));
  }
  return flops;
}
