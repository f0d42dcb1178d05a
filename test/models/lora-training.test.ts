import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/models/backend.js';
import { createModel } from '../../core/models/factory.js';
import type { TextSample } from '../../core/models/model.js';
import { INFERENCE, type WeightRecord } from '../../core/models/network.js';
import { pretrain } from '../../core/models/pretrain.js';
import type { ModelSpec } from '../../core/models/spec.js';
import type { TransformerModel } from '../../core/models/transformer-model.js';
import { COLORS, THINGS, colorSamples, colorTokenizer } from './color-task.js';

beforeAll(async () => {
  await initBackend();
});

const tok = colorTokenizer();
const train = colorSamples(48, 1);
const heldOut = colorSamples(24, 2);
/** Pretraining text in the task's format but with every colour shifted by one: the base learns
 * the format, and LoRA has to learn the actual mapping. */
const shiftedText = colorSamples(48, 3).map((s) => {
  const thing = s.prompt.split(' ').at(-1) as string;
  return `${s.prompt} ${COLORS[(THINGS.indexOf(thing) + 1) % COLORS.length]}`;
});

function spec(arch: ModelSpec['arch']): ModelSpec {
  return {
    arch,
    layers: 2,
    heads: 2,
    dModel: 32,
    maxSeqLen: 16,
    lora: { rank: 4, alpha: 8, dropout: 0.05, targets: ['q', 'v', 'o', 'mlp'] },
  };
}

function model(arch: ModelSpec['arch'], seed = 5): TransformerModel {
  return createModel({ spec: spec(arch), tokenizer: tok, corpus: [...train, ...heldOut, ...shiftedText], seed });
}

async function meanCe(m: TransformerModel, samples: readonly TextSample[]): Promise<number> {
  const scored = await m.scorePublic(samples, 1);
  return scored.ce.reduce((a, b) => a + b, 0) / scored.ce.length;
}

function expectBitIdentical(a: WeightRecord, b: WeightRecord): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const name of Object.keys(a))
    expect(Buffer.from((b[name] as WeightRecord[string]).values.buffer).equals(Buffer.from((a[name] as WeightRecord[string]).values.buffer))).toBe(true);
}

function maxAbsDiff(a: WeightRecord, b: WeightRecord): number {
  let d = 0;
  for (const [name, w] of Object.entries(a))
    w.values.forEach((v, i) => (d = Math.max(d, Math.abs(v - ((b[name] as WeightRecord[string]).values[i] as number)))));
  return d;
}

describe.each(['gpt2', 'llama', 'bloom'] as const)('%s with LoRA', (arch) => {
  it('pretraining moves only base weights; LoRA fine-tuning lowers held-out loss and moves only adapters', async () => {
    const m = model(arch);
    const freshAdapter = m.getAdapter();
    const initialBase = m.network.exportBase();
    await pretrain(m, shiftedText, { epochs: 12, learningRate: 1e-2, batchSize: 8 });
    expectBitIdentical(freshAdapter, m.getAdapter());
    expect(maxAbsDiff(initialBase, m.network.exportBase())).toBeGreaterThan(1e-3);

    const pretrainedBase = m.network.exportBase();
    const before = await meanCe(m, heldOut);
    const stats = await m.trainEpochs(train, { epochs: 6, learningRate: 1e-2, batchSize: 8 });
    const after = await meanCe(m, heldOut);
    expect(stats.steps).toBe(36);
    expect(after).toBeLessThan(before / 2);
    expectBitIdentical(pretrainedBase, m.network.exportBase());
    expect(maxAbsDiff(freshAdapter, m.getAdapter())).toBeGreaterThan(1e-3);
    m.dispose();
  });

  it('gives the same logits after merging the adapter into the base', async () => {
    const m = model(arch);
    await m.trainEpochs(train.slice(0, 16), { epochs: 2, learningRate: 1e-2, batchSize: 4 });
    const ids = m.vocab.encode(m.encode(heldOut[0] as TextSample).ids);
    const shape = { batch: 1, seqLen: ids.length };
    const unmerged = m.network.logits(ids, shape, INFERENCE);
    const adapterBefore = m.getAdapter();
    m.mergeAdapter();
    const merged = m.network.logits(ids, shape, INFERENCE);
    expect(tf.max(tf.abs(tf.sub(unmerged, merged))).dataSync()[0]).toBeLessThan(1e-4);
    // the update is folded in, and the fresh adapter contributes nothing (B = 0)
    expect(maxAbsDiff(adapterBefore, m.getAdapter())).toBeGreaterThan(1e-3);
    for (const [name, w] of Object.entries(m.getAdapter())) if (name.endsWith('lora_b')) expect(w.values.every((v) => v === 0)).toBe(true);
    tf.dispose([unmerged, merged]);
    m.dispose();
  });
});

describe('determinism', () => {
  it('gives identical adapters for the same seed and different ones for another seed', async () => {
    const run = async (seed: number): Promise<WeightRecord> => {
      const m = model('gpt2', seed);
      await m.trainEpochs(train.slice(0, 16), { epochs: 1, learningRate: 1e-2, batchSize: 4 });
      const a = m.getAdapter();
      m.dispose();
      return a;
    };
    const [a, b, c] = [await run(9), await run(9), await run(10)];
    expectBitIdentical(a, b);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-4);
  });
});
