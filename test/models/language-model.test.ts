import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TeacherSource, identityTeacher, type AlignedTeacher } from '../../core/alignment/aligned-teacher.js';
import { initBackend } from '../../core/models/backend.js';
import { createModel } from '../../core/models/factory.js';
import type { LanguageModel, TextSample } from '../../core/models/model.js';
import { pretrain } from '../../core/models/pretrain.js';
import { encodeSample } from '../../core/models/sample-encoding.js';
import type { TransformerModel } from '../../core/models/transformer-model.js';
import { colorSamples, colorTokenizer } from './color-task.js';

beforeAll(async () => {
  await initBackend();
});

const tok = colorTokenizer();
const samples = colorSamples(12, 1);
const spec = {
  arch: 'gpt2' as const,
  layers: 1,
  heads: 2,
  dModel: 16,
  maxSeqLen: 12,
  lora: { rank: 2, alpha: 4, dropout: 0, targets: ['q' as const, 'v' as const, 'mlp' as const] },
};

function model(seed = 2): TransformerModel {
  return createModel({ spec, tokenizer: tok, corpus: samples, seed });
}

/** A teacher that puts all its mass on `tokenizerId` at every position. */
function constantTeacher(own: AlignedTeacher, tokenizerId: number): AlignedTeacher {
  const positions = own.source.length;
  const topKIds = new Int32Array(positions * 2).fill(-1);
  const topKLogits = new Float32Array(positions * 2).fill(-Infinity);
  for (let p = 0; p < positions; p++) {
    topKIds[p * 2] = tokenizerId;
    topKLogits[p * 2] = 5;
  }
  return { ...own, topK: 2, topKIds, topKLogits, source: new Uint8Array(positions).fill(TeacherSource.Teacher) };
}

/** Mean over all positions of the probability mass the model's top-K puts on `tokenizerId` (softmax over top-K). */
async function meanMassOn(m: LanguageModel, tokenizerId: number): Promise<number> {
  const scored = await m.scorePublic(samples, 64);
  const k = scored.topK;
  let total = 0;
  const positions = scored.tokenIds.length;
  for (let p = 0; p < positions; p++) {
    const logits = Array.from(scored.topKLogits.subarray(p * k, (p + 1) * k)).filter((l) => l > -Infinity);
    const z = logits.reduce((s, l) => s + Math.exp(l), 0);
    for (let j = 0; j < k; j++) if (scored.topKIds[p * k + j] === tokenizerId) total += Math.exp(scored.topKLogits[p * k + j] as number) / z;
  }
  return total / positions;
}

describe('scorePublic', () => {
  it('reports tokenizer ids, lengths of the shared sample encoding, sorted top-K, and CE = -answer log-likelihood / length', async () => {
    const m = model();
    const scored = await m.scorePublic(samples, 5);
    const encoded = samples.map((s) => encodeSample(tok, s, spec.maxSeqLen));
    expect(Array.from(scored.lengths)).toEqual(encoded.map((e) => e.ids.length));
    expect(Array.from(scored.tokenIds)).toEqual(encoded.flatMap((e) => e.ids));
    expect(scored.topKIds.length).toBe(scored.tokenIds.length * 5);
    for (let p = 0; p < scored.tokenIds.length; p++) {
      const row = scored.topKLogits.subarray(p * 5, (p + 1) * 5);
      for (let j = 1; j < 5; j++) expect(row[j] as number).toBeLessThanOrEqual(row[j - 1] as number);
      for (let j = 0; j < 5; j++) expect(m.vocab.has(scored.topKIds[p * 5 + j] as number) || scored.topKIds[p * 5 + j] === tok.specials.unk).toBe(true);
    }
    const choices = await m.scoreChoices(samples.map((s) => ({ prompt: s.prompt, choices: [s.answer, ' blue'], label: 0 })));
    samples.forEach((s, i) => {
      expect(scored.ce[i] as number).toBeCloseTo(-(choices.logLikelihood[i]?.[0] as number) / (scored.lengths[i] as number), 5);
      expect(choices.choiceChars[i]).toEqual([s.answer.length, 5]);
    });
    m.dispose();
  });

  it('leaves slots beyond the vocabulary empty and never emits a model unk the tokenizer lacks', async () => {
    const bare = colorTokenizer({ specials: false });
    const m = createModel({ spec, tokenizer: bare, corpus: samples, seed: 1 });
    const k = m.vocab.size + 3;
    const scored = await m.scorePublic(samples.slice(0, 2), k);
    for (let p = 0; p < scored.tokenIds.length; p++) {
      const ids = Array.from(scored.topKIds.subarray(p * k, (p + 1) * k));
      // vocab.size - 1 real ids (the unk has no tokenizer id), the rest empty
      expect(ids.filter((id) => id >= 0).length).toBe(m.vocab.size - 1);
      expect(ids.slice(m.vocab.size - 1)).toEqual(new Array(4).fill(-1));
      expect(Array.from(scored.topKLogits.subarray(p * k + m.vocab.size - 1, (p + 1) * k))).toEqual(new Array(4).fill(-Infinity));
    }
    m.dispose();
  });
});

describe('distillEpochs', () => {
  it('moves the student toward the teacher distribution (kdAlpha 0)', async () => {
    const m = model();
    const own = identityTeacher(await m.scorePublic(samples, 4));
    const target = tok.tokenToId('Ġgreen') as number;
    const before = await meanMassOn(m, target);
    await m.distillEpochs(samples, constantTeacher(own, target), { epochs: 5, learningRate: 2e-2, batchSize: 4, kdAlpha: 0, temperature: 1 });
    expect(before).toBeLessThan(0.1);
    expect(await meanMassOn(m, target)).toBeGreaterThan(before + 0.15);
    m.dispose();
  });

  it('maps teacher ids outside its vocabulary to its unk', async () => {
    const m = model();
    const own = identityTeacher(await m.scorePublic(samples, 4));
    // 'lemon' without a word-start marker never occurs in the corpus (prompts start with filler)
    const outside = tok.tokenToId('lemon') as number;
    expect(m.vocab.has(outside)).toBe(false);
    const before = await meanMassOn(m, tok.specials.unk as number);
    await m.distillEpochs(samples, constantTeacher(own, outside), { epochs: 5, learningRate: 2e-2, batchSize: 4, kdAlpha: 0, temperature: 1 });
    expect(await meanMassOn(m, tok.specials.unk as number)).toBeGreaterThan(before + 0.15);
    m.dispose();
  });

  it('ignores whatever a teacher holds at positions whose source is None', async () => {
    const probe = model();
    const own = identityTeacher(await probe.scorePublic(samples, 4));
    probe.dispose();
    const green = constantTeacher(own, tok.tokenToId('Ġgreen') as number);
    const red = constantTeacher(own, tok.tokenToId('Ġred') as number);
    const source = new Uint8Array(own.source.length).map((_, p) => (p % 2 === 0 ? TeacherSource.None : TeacherSource.Teacher));
    // same teacher at odd positions, different junk at the even (None) ones
    const mixed = { ...green, source, topKIds: green.topKIds.map((id, i) => (Math.floor(i / 2) % 2 === 0 ? (red.topKIds[i] as number) : id)) };
    const options = { epochs: 1, learningRate: 2e-2, batchSize: 4, kdAlpha: 0.5, temperature: 1 };
    const run = async (teacher: AlignedTeacher): Promise<Float32Array[]> => {
      const m = model();
      await m.distillEpochs(samples, teacher, options);
      const values = Object.values(m.getAdapter()).map((w) => w.values);
      m.dispose();
      return values;
    };
    const withGreen = await run({ ...green, source });
    expect(await run(mixed)).toEqual(withGreen);
    expect(await run({ ...mixed, source: own.source })).not.toEqual(withGreen);
  });

  it('rejects a teacher laid over another tokenisation, naming the sample', async () => {
    const m = model();
    const own = identityTeacher(await m.scorePublic(samples, 4));
    const lengths = own.lengths.slice();
    lengths[3] = (lengths[3] as number) + 1;
    const options = { epochs: 1, learningRate: 1e-3, batchSize: 4, kdAlpha: 0.9, temperature: 1 };
    await expect(m.distillEpochs(samples, { ...own, lengths }, options)).rejects.toThrow(
      /sample 3 has \d+ tokens in this model's tokenisation, but the teacher has \d+ positions/,
    );
    await expect(m.distillEpochs(samples, { ...own, tokenizer: 'gpt2' }, options)).rejects.toThrow(
      /aligned to tokenizer 'gpt2', not this model's 'test-words'/,
    );
    await expect(m.distillEpochs(samples.slice(1), own, options)).rejects.toThrow(/teacher covers 12 samples, but 11 samples were given/);
    await expect(m.distillEpochs(samples, own, { ...options, kdAlpha: 2 })).rejects.toThrow(/kdAlpha must be in \[0, 1\]/);
    m.dispose();
  });
});

describe('adapters and generation', () => {
  it('moves adapters between models with setAdapter, and rejects mismatched ones', async () => {
    const a = model(1);
    const b = model(2);
    await a.trainEpochs(samples, { epochs: 1, learningRate: 1e-2, batchSize: 4 });
    b.setAdapter(a.getAdapter());
    const sa = await a.scorePublic(samples, 3);
    const sb = await b.scorePublic(samples, 3);
    expect(sb.ce).not.toEqual(sa.ce); // different base weights (seed)
    expect(Object.keys(b.getAdapter())).toEqual(Object.keys(a.getAdapter()));
    const broken = a.getAdapter();
    delete broken['h.0.attn.q.lora_b'];
    expect(() => b.setAdapter(broken)).toThrow(/adapter weight 'h.0.attn.q.lora_b' is missing/);
    a.dispose();
    b.dispose();
  });

  it('generates greedy continuations in text', async () => {
    const m = model();
    const memorise: TextSample[] = Array.from({ length: 8 }, () => ({ prompt: 'what color is the sky', answer: ' blue green' }));
    await m.trainEpochs(memorise, { epochs: 15, learningRate: 3e-2, batchSize: 4 });
    expect(await m.generate(['what color is the sky'], { maxNewTokens: 2 })).toEqual([' blue green']);
    m.dispose();
  });
});

describe('memory', () => {
  it('leaves no tensors behind: every method is balanced, and dispose frees the model', async () => {
    const before = tf.memory().numTensors;
    const m = model();
    const own = identityTeacher(await m.scorePublic(samples, 4));
    const everything = async (): Promise<void> => {
      await m.trainEpochs(samples, { epochs: 1, learningRate: 1e-3, batchSize: 4 });
      await m.scorePublic(samples, 4);
      await m.distillEpochs(samples, own, { epochs: 1, learningRate: 1e-3, batchSize: 4, kdAlpha: 0.5, temperature: 1 });
      await m.scoreChoices([{ prompt: 'what color', choices: [' red', ' blue'], label: 0 }]);
      await m.generate(['what color'], { maxNewTokens: 2 });
      await pretrain(m, ['what color is the sky red'], { epochs: 1, learningRate: 1e-3, batchSize: 4 });
      m.mergeAdapter();
      m.setAdapter(m.getAdapter());
    };
    await everything(); // first use creates cached masks and tables
    const live = tf.memory().numTensors;
    await everything();
    expect(tf.memory().numTensors).toBe(live);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
