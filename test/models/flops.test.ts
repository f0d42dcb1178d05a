import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { supervisedLoss } from '../../core/learning/loss.js';
import { initBackend } from '../../core/models/backend.js';
import { resolveConfig, type TransformerConfig } from '../../core/models/config.js';
import { stepFlops } from '../../core/models/flops.js';
import { attentionRunsInJs, jsAttentionFlops } from '../../core/models/layers.js';
import { INFERENCE, TransformerNetwork, type NetworkPass } from '../../core/models/network.js';
import type { LoraSpec } from '../../core/models/spec.js';
import type { TrainedWeights } from '../../core/models/training.js';

beforeAll(async () => {
  await initBackend();
});

/** FLOPs of every product `f` runs: tfjs's (BatchMatMul, _FusedMatMul, from the shapes tf.profile
 * records) and the JS attention kernel's (as its loops count them). */
async function productFlops(f: () => void, headDim: number): Promise<{ all: number; rotateHalf: number }> {
  const jsBefore = jsAttentionFlops.total;
  const profile = await tf.profile(() => {
    f();
  });
  let all = jsAttentionFlops.total - jsBefore;
  let rotateHalf = 0;
  for (const k of profile.kernels) {
    if (k.name !== 'BatchMatMul' && k.name !== '_FusedMatMul') continue;
    const [a, b] = k.inputShapes as number[][];
    const out = k.outputShapes[0] as number[];
    const m = out[out.length - 2] as number;
    const aSize = (a as number[]).slice(-2).reduce((x, y) => x * y, 1);
    // 2 M N K per batch entry, K = (a's last two dims) / M, and out size / M = batch * N
    const flops = 2 * (out.reduce((x, y) => x * y, 1) / m) * aSize;
    all += flops;
    // the rotate-half product: [rows, hd] x [hd, hd]
    if ((b as number[]).length === 2 && (b as number[])[0] === headDim && (b as number[])[1] === headDim) rotateHalf += flops;
  }
  return { all, rotateHalf };
}

function config(arch: 'gpt2' | 'llama', targets: LoraSpec['targets']): TransformerConfig {
  return resolveConfig({ arch, layers: 2, heads: 2, dModel: 16, maxSeqLen: 8, lora: { rank: 2, alpha: 4, dropout: 0.1, targets } }, 13);
}

const [batch, seqLen] = [3, 5];
const ids = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 7) % 13);
const targets = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 5 + 1) % 13);
const ceMask = new Float32Array(batch * seqLen).fill(1);

async function measured(net: TransformerNetwork, trained: TrainedWeights | undefined): Promise<{ all: number; rotateHalf: number }> {
  const headDim = net.config.dModel / net.config.heads;
  if (!trained) return productFlops(() => net.logits(ids, { batch, seqLen }, INFERENCE).dispose(), headDim);
  const pass: NetworkPass = { trainBase: trained === 'base', trainAdapters: trained === 'adapters', dropout: true, seed: 3 };
  const vars = trained === 'base' ? net.baseVariables() : net.adapterVariables();
  return productFlops(() => {
    const { value, grads } = tf.variableGrads(() => supervisedLoss(net.logits(ids, { batch, seqLen }, pass), targets, ceMask), vars);
    value.dispose();
    tf.dispose(Object.values(grads));
  }, headDim);
}

describe('stepFlops counts the products a step runs', () => {
  const cases = [
    ['gpt2', ['q', 'k', 'v', 'o', 'mlp']],
    ['llama', ['q', 'k', 'v', 'o', 'mlp']],
    ['gpt2', ['q', 'v']],
    ['llama', ['v', 'mlp']],
  ] as const;
  for (const [arch, t] of cases) {
    for (const trained of [undefined, 'adapters', 'base'] as const) {
      it(`${arch}, LoRA on ${t.join(',')}, ${trained ?? 'inference'}`, async () => {
        const c = config(arch, [...t]);
        const net = TransformerNetwork.create(c, 1);
        const { all, rotateHalf } = await measured(net, trained);
        // rotate-half products (LLaMA with tfjs attention) are elementwise work and deliberately not counted
        if (arch === 'gpt2' || attentionRunsInJs()) expect(rotateHalf).toBe(0);
        else expect(rotateHalf).toBeGreaterThan(0);
        expect(all - rotateHalf).toBe(stepFlops(c, batch * seqLen, seqLen, trained));
        net.dispose();
      });
    }
  }
});
