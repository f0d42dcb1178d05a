import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityTeacher } from '../../core/alignment/aligned-teacher.js';
import { initBackend } from '../../core/models/backend.js';
import { createModel } from '../../core/models/factory.js';
import { ModelWorkerPool, type TokenizerSource } from '../../core/models/worker-pool.js';
import { COLORS, FILLER, THINGS, colorSamples, colorTokenizer } from './color-task.js';

const words = [...COLORS, ...THINGS, ...FILLER, 'what', 'color', 'is', 'the', '?'];
const tokenizerSource: TokenizerSource = {
  module: new URL('./word-tokenizer.ts', import.meta.url).href,
  factory: 'wordTokenizer',
  args: [words],
};
const samples = colorSamples(16, 1);
const spec = {
  arch: 'gpt2' as const,
  layers: 1,
  heads: 2,
  dModel: 16,
  maxSeqLen: 12,
  lora: { rank: 2, alpha: 4, dropout: 0.1, targets: ['q' as const, 'v' as const] },
};
const train = { epochs: 1, learningRate: 1e-2, batchSize: 4 };

let pool: ModelWorkerPool;

beforeAll(async () => {
  await initBackend('wasm');
  pool = new ModelWorkerPool({ size: 2, backend: 'wasm' });
});

afterAll(async () => {
  await pool.close();
});

describe('RemoteModel', () => {
  it('computes exactly what the same model computes in-process', async () => {
    const local = createModel({ spec, tokenizer: colorTokenizer(), corpus: samples, seed: 3 });
    const remote = await pool.createModel({ spec, tokenizer: tokenizerSource, corpus: samples, seed: 3 });
    expect(remote.tokenizer).toBe(local.tokenizer);
    expect(await remote.trainEpochs(samples, train)).toEqual(await local.trainEpochs(samples, train));
    const [a, b] = [await local.scorePublic(samples, 4), await remote.scorePublic(samples, 4)];
    expect(Array.from(b.topKLogits)).toEqual(Array.from(a.topKLogits));
    expect(Array.from(b.topKIds)).toEqual(Array.from(a.topKIds));
    expect(Array.from(b.ce)).toEqual(Array.from(a.ce));
    const distill = { ...train, kdAlpha: 0.5, temperature: 1 };
    expect(await remote.distillEpochs(samples, identityTeacher(a), distill)).toEqual(await local.distillEpochs(samples, identityTeacher(a), distill));
    const adapter = local.getAdapter();
    for (const [name, w] of Object.entries(remote.getAdapter())) expect(Array.from(w.values)).toEqual(Array.from(adapter[name]?.values ?? []));
    local.dispose();
    remote.dispose();
  });

  it('applies setAdapter before later calls, checks it here, and reports worker errors', async () => {
    const a = await pool.createModel({ spec, tokenizer: tokenizerSource, corpus: samples, seed: 1 });
    const b = await pool.createModel({ spec, tokenizer: tokenizerSource, corpus: samples, seed: 1 });
    await a.trainEpochs(samples, train);
    b.setAdapter(a.getAdapter());
    expect(Array.from((await b.scorePublic(samples, 2)).ce)).toEqual(Array.from((await a.scorePublic(samples, 2)).ce));
    expect(() => b.setAdapter({})).toThrow(/adapter weight 'h.0.attn.q.lora_a' is missing/);
    const own = identityTeacher(await a.scorePublic(samples, 2));
    await expect(a.distillEpochs(samples.slice(1), own, { ...train, kdAlpha: 0.9, temperature: 1 })).rejects.toThrow(
      /teacher covers 16 samples, but 15 samples were given/,
    );
    a.dispose();
    b.dispose();
    await expect(a.scorePublic(samples, 2)).rejects.toThrow(/used after dispose/);
  });

  it('keeps the main event loop ticking while a worker trains', async () => {
    const bigger = { ...spec, layers: 6, dModel: 128, heads: 4, maxSeqLen: 12 };
    const remote = await pool.createModel({ spec: bigger, tokenizer: tokenizerSource, corpus: samples, seed: 2 });
    const many = colorSamples(96, 4);
    let last = performance.now();
    let maxGap = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const start = performance.now();
    // one optimiser step over all 96 samples: in-process it would block the loop throughout
    await remote.trainEpochs(many, { epochs: 1, learningRate: 1e-3, batchSize: 96 });
    const took = performance.now() - start;
    clearInterval(timer);
    remote.dispose();
    expect(took).toBeGreaterThan(300);
    // bounds loose enough for a loaded 2-core machine; in-process, the gap would be the whole step
    expect(ticks).toBeGreaterThan(took / 5 / 10);
    expect(maxGap).toBeLessThan(took / 3);
  });
});
