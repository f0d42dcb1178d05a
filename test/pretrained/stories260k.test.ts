/**
 * The real stories260K model (../shared/models/stories260K: llama2.c checkpoint, its tokenizer,
 * the same weights in Hugging Face layout) against expected.json, produced by llama2.c's run.c:
 * tokenizer encodings, first logits, the 200-token greedy continuation of "Once upon a time",
 * from both formats; then LoRA, checkpoints and the compact vocabulary on the loaded base.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { initBackend } from '../../core/models/backend.js';
import { createModel, loadModel } from '../../core/models/factory.js';
import { continueIds } from '../../core/models/generation.js';
import { INFERENCE } from '../../core/models/network.js';
import { readSafetensors } from '../../core/models/safetensors.js';
import type { TransformerModel } from '../../core/models/transformer-model.js';
import { Llama2cTokenizer } from '../../core/tokenizers/llama2c-tokenizer.js';

const DIR = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
const present = existsSync(join(DIR, 'expected.json'));
/** Each test skips, saying why, where the fixture is absent. */
const needFixture = (ctx: TestContext): void =>
  ctx.skip(!present, `stories260K fixture missing: ${DIR} (../shared/models/stories260K from the repository root) does not exist`);

interface Expected {
  model_sha256: string;
  prompt: string;
  prompt_ids: number[];
  greedy_ids: number[];
  greedy_text: string;
  run_c_stdout: string;
  logits_first_positions: number[][];
  encodings: { text: string; ids: number[]; pieces: string[] }[];
}
const expected: Expected | undefined = present ? (JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected) : undefined;
const FORMATS = [
  ['llama2.c', 'stories260K.bin'],
  ['Hugging Face', 'hf'],
] as const;

let scratch: string;
let tokenizer: Llama2cTokenizer;
beforeAll(async () => {
  await initBackend('wasm');
  scratch = mkdtempSync(join(tmpdir(), 'fedmkt-stories-'));
  if (present) tokenizer = Llama2cTokenizer.fromFile(join(DIR, 'tok512.bin'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function load(file: string, extra: Record<string, unknown> = {}): TransformerModel {
  return createModel({ spec: { checkpoint: join(DIR, file), ...extra }, tokenizer, seed: 5 });
}

function logitsOf(model: TransformerModel, ids: readonly number[]): number[][] {
  const modelIds = Int32Array.from(ids, (id) => model.vocab.toModel(id));
  return model.network.logits(modelIds, { batch: 1, seqLen: ids.length }, INFERENCE).arraySync() as number[][];
}

function maxDifference(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number {
  let worst = 0;
  a.forEach((row, p) => row.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - ((b[p] as number[])[i] as number))))));
  return worst;
}

describe("stories260K against llama2.c's run.c", () => {
  it('the tokenizer encodes the prompt and every listed text as run.c, and decodes as run.c prints', (ctx) => {
    needFixture(ctx);
    const e = expected as Expected;
    expect([1, ...tokenizer.encode(e.prompt)]).toEqual(e.prompt_ids);
    for (const { text, ids, pieces } of e.encodings) {
      expect([1, ...tokenizer.encode(text)]).toEqual(ids);
      expect(ids.map((id) => tokenizer.idToToken(id))).toEqual(pieces);
    }
    expect(tokenizer.decode(e.greedy_ids)).toBe(e.greedy_text);
    expect(`${tokenizer.decode([...e.prompt_ids, ...e.greedy_ids])}\n`).toBe(e.run_c_stdout);
  });

  for (const [label, file] of FORMATS)
    it(`from the ${label} checkpoint: the first positions' logits within 1e-4`, (ctx) => {
      needFixture(ctx);
      const e = expected as Expected;
      const model = load(file);
      expect(model.config).toMatchObject({
        arch: 'llama',
        layers: 5,
        heads: 8,
        kvHeads: 4,
        dModel: 64,
        dFF: 172,
        vocabSize: 512,
        tieEmbeddings: true,
        normEps: 1e-5,
      });
      expect(maxDifference(logitsOf(model, e.prompt_ids.slice(0, 4)), e.logits_first_positions)).toBeLessThan(1e-4);
      model.dispose();
    });

  for (const [label, file] of FORMATS)
    it(`from the ${label} checkpoint: the greedy continuation of "Once upon a time" is run.c's, token for token`, (ctx) => {
      needFixture(ctx);
      const e = expected as Expected;
      const model = load(file);
      expect(continueIds(model, e.prompt_ids, { tokens: e.greedy_ids.length, greedy: true, stop: [1] })).toEqual(e.greedy_ids);
      model.dispose();
    });

  it("both formats load the same base weights (the HF q and k rows are llama2.c's, permuted)", (ctx) => {
    needFixture(ctx);
    const [a, b] = FORMATS.map(([, file]) => load(file));
    const [wa, wb] = [a, b].map((m) => (m as TransformerModel).network.exportBase());
    expect(Object.keys(wa as object).sort()).toEqual(Object.keys(wb as object).sort());
    for (const name of Object.keys(wa as object)) expect(Buffer.from(wb![name]!.values.buffer).equals(Buffer.from(wa![name]!.values.buffer))).toBe(true);
    a?.dispose();
    b?.dispose();
  });
});

/**
 * stories260K's v0 file rewritten with the v1 header and order, or v2's Q8_0 (groups of 64), from
 * SOURCE.md's layout; `dequantised`: v1 holding the values v2 stands for (q * scale in float32).
 */
function rewrite(version: 1 | 2, dequantised = false): string {
  const v0 = readFileSync(join(DIR, 'stories260K.bin'));
  const floats = (offset: number, count: number): Float32Array =>
    new Float32Array(v0.buffer.slice(v0.byteOffset + 28 + 4 * offset, v0.byteOffset + 28 + 4 * (offset + count)));
  const [L, d, kv, ff, V] = [5, 64, 32, 172, 512];
  const sizes = {
    emb: V * d,
    attNorm: L * d,
    wq: L * d * d,
    wk: L * kv * d,
    wv: L * kv * d,
    wo: L * d * d,
    ffnNorm: L * d,
    w1: L * ff * d,
    w2: L * d * ff,
    w3: L * ff * d,
    norm: d,
  };
  const at: Record<string, number> = {};
  let offset = 0;
  for (const [name, size] of Object.entries(sizes)) {
    at[name] = offset;
    offset += size;
  }
  const part = (name: keyof typeof sizes): Float32Array => floats(at[name] as number, sizes[name]);
  const header = Buffer.alloc(256);
  header.writeUInt32LE(0x616b3432, 0);
  header.writeInt32LE(version, 4);
  [d, ff, L, 8, 4, V, 512].forEach((v, i) => header.writeInt32LE(v, 8 + 4 * i));
  header[36] = 1;
  if (version === 2) header.writeInt32LE(64, 37);
  const norms = [part('attNorm'), part('ffnNorm'), part('norm')].map((f) => Buffer.from(f.buffer));
  // each layer's matrix apart (v2 quantises them one by one)
  const matrices = [
    part('emb'),
    ...(['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'] as const).flatMap((k) =>
      Array.from({ length: L }, (_, l) => part(k).subarray((l * sizes[k]) / L, ((l + 1) * sizes[k]) / L)),
    ),
  ];
  const q80 = (w: Float32Array): { q: Int8Array; scales: Float32Array } => {
    const q = new Int8Array(w.length);
    const scales = new Float32Array(w.length / 64);
    for (let g = 0; g < scales.length; g++) {
      const group = w.subarray(g * 64, (g + 1) * 64);
      scales[g] = Math.max(...group.map(Math.abs)) / 127;
      group.forEach((v, i) => (q[g * 64 + i] = Math.round(v / (scales[g] as number))));
    }
    return { q, scales };
  };
  const body = matrices.map((m) => {
    if (version === 1 && !dequantised) return Buffer.from(m.slice().buffer);
    const { q, scales } = q80(m);
    if (version === 2) return Buffer.concat([Buffer.from(q.buffer), Buffer.from(scales.buffer)]);
    return Buffer.from(Float32Array.from(q, (v, i) => v * (scales[Math.floor(i / 64)] as number)).buffer);
  });
  const file = join(scratch, `stories260K-v${version}${dequantised ? '-dequantised' : ''}.bin`);
  writeFileSync(file, Buffer.concat([header, ...norms, ...body]));
  return file;
}

describe('llama2.c v1 and v2 headers', () => {
  it('v1 (float32, 256-byte header) gives the v0 logits exactly; v2 (Q8_0) those of its dequantised weights', (ctx) => {
    needFixture(ctx);
    const e = expected as Expected;
    const v0 = load('stories260K.bin');
    const want = logitsOf(v0, e.prompt_ids);
    const v1 = createModel({ spec: { checkpoint: rewrite(1) }, tokenizer, seed: 5 });
    expect(maxDifference(logitsOf(v1, e.prompt_ids), want)).toBe(0);
    const v2 = createModel({ spec: { checkpoint: rewrite(2) }, tokenizer, seed: 5 });
    const dequantised = createModel({ spec: { checkpoint: rewrite(1, true) }, tokenizer, seed: 5 });
    const quantisedLogits = logitsOf(v2, e.prompt_ids);
    expect(maxDifference(quantisedLogits, logitsOf(dequantised, e.prompt_ids))).toBe(0);
    expect(maxDifference(quantisedLogits, want)).toBeGreaterThan(0);
    for (const m of [v0, v1, v2, dequantised]) m.dispose();
  });
});

describe('the loaded base under LoRA, checkpoints and the compact vocabulary', () => {
  const samples = [
    { prompt: 'Once upon a time, there was a', answer: ' little dog.' },
    { prompt: 'Lily liked to', answer: ' play in the park.' },
    { prompt: 'Tom had a', answer: ' big red ball.' },
    { prompt: 'The sun was', answer: ' warm and bright.' },
  ];

  it("LoRA training changes the adapters only: the base stays bit for bit the checkpoint's", async (ctx) => {
    needFixture(ctx);
    const model = load('hf', { lora: { rank: 4, alpha: 8, dropout: 0.1, targets: ['q', 'k', 'v', 'o', 'mlp'] } });
    const base = model.network.exportBase();
    const adapter = model.getAdapter();
    const stats = await model.trainEpochs(samples, { epochs: 2, learningRate: 1e-2, batchSize: 2 });
    expect(stats.steps).toBe(4);
    const after = model.network.exportBase();
    for (const name of Object.keys(base)) expect(Buffer.from(after[name]!.values.buffer).equals(Buffer.from(base[name]!.values.buffer))).toBe(true);
    const changed = Object.keys(adapter).filter(
      (name) => !Buffer.from(model.getAdapter()[name]!.values.buffer).equals(Buffer.from(adapter[name]!.values.buffer)),
    );
    expect(changed.length).toBe(Object.keys(adapter).length);
    model.dispose();
  });

  it('a checkpoint names the unchanged base by path and SHA-256 and is restored from it; a changed file is refused; a merged base is written', async (ctx) => {
    needFixture(ctx);
    const e = expected as Expected;
    const copy = join(scratch, 'copy.bin');
    copyFileSync(join(DIR, 'stories260K.bin'), copy);
    const model = createModel({ spec: { checkpoint: copy }, tokenizer, seed: 5 });
    await model.trainEpochs(samples, { epochs: 1, learningRate: 1e-2, batchSize: 2 });
    const saved = join(scratch, 'saved');
    await model.save(saved);
    expect(existsSync(join(saved, 'base.safetensors'))).toBe(false);
    const config = JSON.parse(readFileSync(join(saved, 'config.json'), 'utf8')) as { pretrainedBase: { checkpoint: string; sha256: string } };
    expect(config.pretrainedBase).toEqual({ checkpoint: copy, sha256: e.model_sha256 });
    const { metadata } = await readSafetensors(join(saved, 'adapter.safetensors'));
    expect(metadata).toMatchObject({ base_checkpoint: copy, base_sha256: e.model_sha256 });

    const restored = await loadModel(saved, tokenizer);
    expect(maxDifference(logitsOf(restored, e.prompt_ids), logitsOf(model, e.prompt_ids))).toBe(0);
    restored.dispose();

    const bytes = readFileSync(copy);
    bytes.writeFloatLE(bytes.readFloatLE(100) + 1, 100);
    writeFileSync(copy, bytes);
    await expect(loadModel(saved, tokenizer)).rejects.toThrow(
      new RegExp(`its base is checkpoint ${copy} with SHA-256 ${e.model_sha256}, but that path now holds [0-9a-f]{64}`),
    );

    model.mergeAdapter();
    const merged = join(scratch, 'merged');
    await model.save(merged);
    expect(existsSync(join(merged, 'base.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(join(merged, 'config.json'), 'utf8')).pretrainedBase).toBeUndefined();
    model.dispose();
  });

  it('the compact vocabulary keeps the checkpoint rows of the corpus tokens, ids mapped exactly', (ctx) => {
    needFixture(ctx);
    const e = expected as Expected;
    const full = load('stories260K.bin');
    const compact = createModel({ spec: { checkpoint: join(DIR, 'stories260K.bin'), vocab: 'compact' }, tokenizer, corpus: [e.prompt, ...samples], seed: 5 });
    expect(compact.vocab.size).toBeLessThan(100);
    expect(compact.config.vocabSize).toBe(compact.vocab.size);
    const fullLogits = logitsOf(full, e.prompt_ids);
    const compactLogits = logitsOf(compact, e.prompt_ids);
    compactLogits.forEach((row, p) =>
      row.forEach((v, m) => expect(Math.abs(v - ((fullLogits[p] as number[])[compact.vocab.toTokenizer(m)] as number))).toBeLessThan(1e-5)),
    );
    full.dispose();
    compact.dispose();
  });
});
