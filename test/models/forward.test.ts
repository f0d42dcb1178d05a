import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { supervisedLoss } from '../../core/learning/loss.js';
import { initBackend } from '../../core/models/backend.js';
import { INFERENCE, type TransformerNetwork, type WeightRecord } from '../../core/models/network.js';
import { referenceLogits } from './reference-transformer.js';
import { tinyNetwork } from './tiny-network.js';

beforeAll(async () => {
  await initBackend();
});

const sequences = [
  [1, 4, 9, 2, 7, 3],
  [5, 0, 10, 6],
];

/** Two sequences right-padded to 6 tokens, as one batch. */
function batchIds(): Int32Array {
  const ids = new Int32Array(12);
  ids.set(sequences[0] as number[], 0);
  ids.set(sequences[1] as number[], 6);
  return ids;
}

describe.each(['gpt2', 'llama', 'bloom'] as const)('%s forward', (arch) => {
  it('equals a loop-by-loop plain-number reference (LoRA on every projection, padded batch)', () => {
    const net = tinyNetwork(arch);
    const base = net.exportBase();
    const adapter = net.exportAdapter();
    const logits = net.logits(batchIds(), { batch: 2, seqLen: 6 }, INFERENCE);
    const got = logits.arraySync() as number[][];
    logits.dispose();
    sequences.forEach((seq, b) => {
      const expected = referenceLogits(net.config, base, adapter, seq);
      expected.forEach((rowExpected, t) => {
        rowExpected.forEach((v, j) => expect(got[b * 6 + t]?.[j]).toBeCloseTo(v, 4));
      });
    });
    // told the sequences' lengths, it may leave padded positions out: real positions are unchanged
    const withLengths = net.logits(batchIds(), { batch: 2, seqLen: 6, lengths: sequences.map((s) => s.length) }, INFERENCE);
    const gotWithLengths = withLengths.arraySync() as number[][];
    withLengths.dispose();
    sequences.forEach((seq, b) => seq.forEach((_, t) => gotWithLengths[b * 6 + t]?.forEach((v, j) => expect(v).toBeCloseTo(got[b * 6 + t]?.[j] as number, 5))));
    net.dispose();
  });
});

function nextTokenTargets(): { targets: Int32Array; mask: Float32Array } {
  const targets = new Int32Array(12);
  const mask = new Float32Array(12);
  sequences.forEach((seq, b) =>
    seq.slice(1).forEach((id, t) => {
      targets[b * 6 + t] = id;
      mask[b * 6 + t] = 1;
    }),
  );
  return { targets, mask };
}

/** Supervised loss of the batch (every next token a target) under the given adapter values. */
function lossWith(net: TransformerNetwork, adapter: WeightRecord): number {
  net.setAdapter(adapter);
  const ids = batchIds();
  const { targets, mask } = nextTokenTargets();
  return tf.tidy(() => supervisedLoss(net.logits(ids, { batch: 2, seqLen: 6 }, INFERENCE), targets, mask).dataSync()[0] as number);
}

describe.each(['gpt2', 'llama', 'bloom'] as const)('%s LoRA gradients', (arch) => {
  it('match central finite differences', () => {
    const net = tinyNetwork(arch);
    const adapter = net.exportAdapter();
    const ids = batchIds();
    const { targets, mask } = nextTokenTargets();
    const named = net.namedAdapterVariables();
    const { grads } = tf.variableGrads(
      () => supervisedLoss(net.logits(ids, { batch: 2, seqLen: 6 }, { trainBase: false, trainAdapters: true, dropout: false, seed: 0 }), targets, mask),
      [...named.values()],
    );
    const analytic = (name: string): Float32Array => grads[(named.get(name) as tf.Variable).name]?.dataSync() as Float32Array;
    const eps = 1e-2;
    let checked = 0;
    for (const name of ['layers.0.attn.q', 'h.0.attn.q', 'layers.1.mlp.down', 'h.1.mlp.proj', 'layers.1.attn.v', 'h.0.attn.o']) {
      for (const part of ['lora_a', 'lora_b']) {
        const key = `${name}.${part}`;
        if (!(key in adapter)) continue;
        for (const index of [0, 3]) {
          const plus = structuredClone(adapter);
          const minus = structuredClone(adapter);
          const value = (adapter[key] as WeightRecord[string]).values[index] as number;
          (plus[key] as WeightRecord[string]).values[index] = value + eps;
          (minus[key] as WeightRecord[string]).values[index] = value - eps;
          const numeric = (lossWith(net, plus) - lossWith(net, minus)) / (2 * eps);
          const g = analytic(key)[index] as number;
          expect(Math.abs(g - numeric)).toBeLessThan(2e-3 + 0.02 * Math.abs(numeric));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(8);
    tf.dispose(Object.values(grads));
    net.dispose();
  });
});
