/** The bigram model: a LanguageModel in plain typed arrays for protocol-scale runs. */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import { resumePoint } from '../../actors/round-checkpoints.js';
import { identityTeacher } from '../../core/alignment/aligned-teacher.js';
import { builtinTask } from '../../core/data/builtin-task.js';
import { BigramModel, isBigramCheckpoint } from '../../core/models/bigram.js';
import { BigramBase, parseBigramSpec } from '../../core/models/bigram-base.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';
import { bigramLearning, bigramScenario } from './helpers.js';

async function setup() {
  const tokenizer = await loadTokenizer('gpt2');
  const task = builtinTask(3);
  const samples = task.train.slice(0, 40).map((e) => ({ prompt: e.prompt, answer: e.answer }));
  const items = task.test.slice(0, 20);
  const base = BigramBase.build(tokenizer, [...task.train.map((e) => ({ prompt: e.prompt, answer: e.answer })), ...task.test], null);
  return { tokenizer, samples, items, base };
}

describe('bigram model', () => {
  it('parses `bigram` and `bigram-r<rank>` and nothing else', () => {
    expect(parseBigramSpec('bigram')).toEqual({ rank: 4, alpha: 8, maxSeqLen: 64 });
    expect(parseBigramSpec('bigram-r8')?.rank).toBe(8);
    expect(parseBigramSpec('gpt2-tiny')).toBeNull();
    expect(parseBigramSpec({ arch: 'gpt2' })).toBeNull();
  });

  it('scores the public set in the protocol layout, and training on it lowers its CE', async () => {
    const { samples, base, tokenizer } = await setup();
    const model = new BigramModel(base, parseBigramSpec('bigram')!, 1);
    const before = await model.scorePublic(samples, 8);
    const positions = before.lengths.reduce((a, b) => a + b, 0);
    expect(before.tokenizer).toBe('gpt2');
    expect(before.tokenIds).toHaveLength(positions);
    expect(before.topKIds).toHaveLength(positions * 8);
    const bos = tokenizer.specials.bos === undefined ? [] : [tokenizer.specials.bos];
    expect(Array.from(before.tokenIds.slice(0, before.lengths[0]!))).toEqual([
      ...bos,
      ...tokenizer.encode(samples[0]!.prompt),
      ...tokenizer.encode(samples[0]!.answer),
    ]);
    // Top-K logits come highest first.
    for (let k = 1; k < 8; k++) expect(before.topKLogits[k]!).toBeLessThanOrEqual(before.topKLogits[k - 1]!);
    const stats = await model.trainEpochs(samples, { epochs: 5, learningRate: 0.05, batchSize: 8 });
    expect(stats.steps).toBe(25);
    const after = await model.scorePublic(samples, 8);
    const mean = (a: Float32Array) => a.reduce((s, x) => s + x, 0) / a.length;
    expect(mean(after.ce)).toBeLessThan(mean(before.ce) * 0.8);
  });

  it('distils toward a teacher and round-trips its adapter; same seed, same numbers', async () => {
    const { samples, items, base } = await setup();
    const teacherModel = new BigramModel(base, parseBigramSpec('bigram')!, 2);
    await teacherModel.trainEpochs(samples, { epochs: 5, learningRate: 0.05, batchSize: 8 });
    const teacher = identityTeacher(await teacherModel.scorePublic(samples, 8));
    const make = () => new BigramModel(base, parseBigramSpec('bigram')!, 3);
    const [a, b] = [make(), make()];
    for (const m of [a, b]) await m.distillEpochs(samples, teacher, { epochs: 2, learningRate: 0.05, batchSize: 8, kdAlpha: 0.5, temperature: 1 });
    expect(Array.from(a.a)).toEqual(Array.from(b.a));
    const c = make();
    c.setAdapter(a.getAdapter());
    expect(await c.scoreChoices(items)).toEqual(await a.scoreChoices(items));
    expect(() => c.setAdapter({})).toThrow(/missing tensor "bigram.lora_a"/);
  });

  it('saves and loads: the same scores, the same next draws, one shared base table', async () => {
    const { samples, items, base, tokenizer } = await setup();
    const model = new BigramModel(base, parseBigramSpec('bigram-r3')!, 4);
    await model.trainEpochs(samples, { epochs: 2, learningRate: 0.05, batchSize: 8 });
    const dir = await mkdtemp(join(tmpdir(), 'fedmkt-bigram-'));
    await model.save(join(dir, 'a'));
    await model.save(join(dir, 'b'));
    const [a, b] = [await BigramModel.load(join(dir, 'a'), tokenizer), await BigramModel.load(join(dir, 'b'), tokenizer)];
    expect(a.base).toBe(b.base);
    expect(await a.scoreChoices(items)).toEqual(await model.scoreChoices(items));
    // Training goes on with the draws the saved model would have made next.
    for (const m of [model, a]) await m.trainEpochs(samples, { epochs: 1, learningRate: 0.05, batchSize: 8 });
    expect(Array.from(a.a)).toEqual(Array.from(model.a));
    expect(Array.from(a.b)).toEqual(Array.from(model.b));
    expect(await isBigramCheckpoint(join(dir, 'a'))).toBe(true);
    expect(await isBigramCheckpoint(dir)).toBe(false);
    await writeFile(join(dir, 'a', 'adapter.f32'), new Uint8Array(12));
    await expect(BigramModel.load(join(dir, 'a'), tokenizer)).rejects.toThrow(/adapter.f32: 12 bytes, expected \d+/);
    await rm(dir, { recursive: true, force: true });
  });

  it('resumes a federation of bigram models from their round checkpoints as if uninterrupted', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fedmkt-bigram-resume-'));
    const learning = bigramLearning();
    const extended = join(root, 'extended');
    await runFederation(bigramScenario({ rounds: 2 }), { outDir: extended, learning, checkpoints: true });
    const actors = ['server', 'c1', 'c2', 'c3', 'c4'];
    const result = await runFederation(bigramScenario({ rounds: 3 }), { outDir: extended, learning, checkpoints: true, resume: resumePoint(extended, actors) });
    expect(result.violations).toEqual([]);
    const planned = join(root, 'planned');
    await runFederation(bigramScenario({ rounds: 3 }), { outDir: planned, learning, checkpoints: true });
    const metrics = (dir: string) =>
      readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const { actor, round, accuracy, publicCE, trainLoss, distillLoss } = JSON.parse(l) as Record<string, unknown>;
          return { actor, round, accuracy, publicCE, trainLoss, distillLoss };
        });
    expect(metrics(extended)).toEqual(metrics(planned));
    await rm(root, { recursive: true, force: true });
  });
});
