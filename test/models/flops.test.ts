import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { supervisedLoss } from '../../core/learning/loss.js';
import { initBackend } from '../../core/models/backend.js';
import { resolveConfig, type TransformerConfig } from '../../core/models/config.js';
import { stepFlops, uncountedFlops } from '../../core/models/flops.js';
import { jsAttentionFlops } from '../../core/models/layers.js';
import { INFERENCE, TransformerNetwork, type NetworkPass } from '../../core/models/network.js';
import type { LoraSpec } from '../../core/models/spec.js';
import type { TrainedWeights } from '../../core/models/flops.js';

/** FLOPs of every product run: tfjs's product kernels (however they are called) and the JS attention kernel's. */
const counted = { all: 0 };

beforeAll(async () => {
  await initBackend();
  // count at the kernels, which blocks call directly as well as through the engine
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const config = tf.getKernel(name, tf.getBackend()) as tf.KernelConfig;
    const inner = config.kernelFunc;
    (config as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
      const out = inner(args) as tf.TensorInfo;
      const { a } = args.inputs as { a: tf.TensorInfo };
      const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean };
      // 2 M N K per batch entry: out [.., M, N], K the inner dimension of a
      const k = attrs.transposeA ? (a.shape[a.shape.length - 2] as number) : (a.shape[a.shape.length - 1] as number);
      const flops = 2 * out.shape.reduce((x, y) => x * y, 1) * k;
      counted.all += flops;
      return out;
    };
  }
});

function productFlops(f: () => void): number {
  const jsBefore = jsAttentionFlops.total;
  counted.all = 0;
  f();
  return counted.all + jsAttentionFlops.total - jsBefore;
}

function config(arch: 'gpt2' | 'llama' | 'bloom', targets: LoraSpec['targets']): TransformerConfig {
  return resolveConfig({ arch, layers: 2, heads: 2, dModel: 16, maxSeqLen: 8, lora: { rank: 2, alpha: 4, dropout: 0.1, targets } }, 13);
}

const [batch, seqLen] = [3, 5];
const ids = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 7) % 13);
const targets = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 5 + 1) % 13);
const ceMask = new Float32Array(batch * seqLen).fill(1);
/** Padded batch: real lengths of the 3 sequences. */
const lengths = [5, 2, 4];

function measured(net: TransformerNetwork, trained: TrainedWeights | undefined, lens?: number[]): number {
  const shape = { batch, seqLen, ...(lens ? { lengths: lens } : {}) };
  if (!trained) return productFlops(() => net.logits(ids, shape, INFERENCE).dispose());
  const pass: NetworkPass = { trainBase: trained === 'base', trainAdapters: trained === 'adapters', dropout: true, seed: 3 };
  const vars = trained === 'base' ? net.baseVariables() : net.adapterVariables();
  return productFlops(() => {
    const { value, grads } = tf.variableGrads(() => supervisedLoss(net.logits(ids, shape, pass), targets, ceMask), vars);
    value.dispose();
    tf.dispose(Object.values(grads));
  });
}

describe('stepFlops counts the products a step runs', () => {
  const cases = [
    ['gpt2', ['q', 'k', 'v', 'o', 'mlp']],
    ['llama', ['q', 'k', 'v', 'o', 'mlp']],
    ['gpt2', ['q', 'v']],
    ['llama', ['v', 'mlp']],
    ['bloom', ['q', 'k', 'v', 'o', 'mlp']],
  ] as const;
  for (const [arch, t] of cases) {
    for (const trained of [undefined, 'adapters', 'base'] as const) {
      it(`${arch}, LoRA on ${t.join(',')}, ${trained ?? 'inference'}`, async () => {
        const c = config(arch, [...t]);
        const net = TransformerNetwork.create(c, 1);
        // every product run is counted, except structural zeros and permutations (uncountedFlops)
        const uncounted = uncountedFlops(c, batch * seqLen, seqLen, trained);
        expect(measured(net, trained)).toBe(stepFlops(c, batch * seqLen, seqLen, trained) + uncounted);
        // a padded batch whose lengths the forward pass is told
        expect(measured(net, trained, lengths)).toBe(stepFlops(c, batch * seqLen, seqLen, trained, lengths) + uncounted);
        net.dispose();
      });
    }
  }
});
