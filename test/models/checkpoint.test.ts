import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/models/backend.js';
import { createModel, loadModel } from '../../core/models/factory.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors } from '../../core/models/safetensors.js';
import { colorSamples, colorTokenizer } from './color-task.js';
import { WordTokenizer } from './word-tokenizer.js';

let dir: string;

beforeAll(async () => {
  await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedmkt-ckpt-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tok = colorTokenizer();
const samples = colorSamples(16, 1);
const spec = {
  arch: 'llama' as const,
  layers: 1,
  heads: 2,
  dModel: 16,
  maxSeqLen: 16,
  lora: { rank: 2, alpha: 4, dropout: 0.1, targets: ['q' as const, 'v' as const] },
};

describe('checkpoint', () => {
  it('round-trips: identical logits, and resumed training continues exactly as uninterrupted training', async () => {
    const original = createModel({ spec, tokenizer: tok, corpus: samples, seed: 4 });
    await original.trainEpochs(samples, { epochs: 1, learningRate: 1e-2, batchSize: 4 });
    const path = join(dir, 'roundtrip');
    await original.save(path);
    const restored = await loadModel(path, tok);

    const a = await original.scorePublic(samples, 8);
    const b = await restored.scorePublic(samples, 8);
    expect(Buffer.from(b.topKLogits.buffer).equals(Buffer.from(a.topKLogits.buffer))).toBe(true);
    expect(Array.from(b.topKIds)).toEqual(Array.from(a.topKIds));
    expect(Array.from(b.ce)).toEqual(Array.from(a.ce));

    await original.trainEpochs(samples, { epochs: 1, learningRate: 1e-2, batchSize: 4 });
    await restored.trainEpochs(samples, { epochs: 1, learningRate: 1e-2, batchSize: 4 });
    const adapterA = original.getAdapter();
    const adapterB = restored.getAdapter();
    for (const name of Object.keys(adapterA)) expect(Array.from(adapterB[name]?.values ?? [])).toEqual(Array.from(adapterA[name]?.values ?? []));
    original.dispose();
    restored.dispose();
  });

  it('writes safetensors files a Python reader accepts: u64 LE header length, JSON header, contiguous F32 data', async () => {
    const m = createModel({ spec, tokenizer: tok, corpus: samples, seed: 4 });
    const path = join(dir, 'layout');
    await m.save(path);
    const config = JSON.parse(await readFile(join(path, 'config.json'), 'utf8')) as { vocab: number[]; spec: { arch: string } };
    expect(config.spec.arch).toBe('llama');
    expect(config.vocab).toEqual(m.vocab.tokenizerIds());

    for (const [file, weights] of [
      ['base.safetensors', m.network.exportBase()],
      ['adapter.safetensors', m.getAdapter()],
    ] as const) {
      const bytes = await readFile(join(path, file));
      // parsed by hand, independently of the decoder under test
      const n = Number(bytes.readBigUInt64LE(0));
      expect(n % 8).toBe(0);
      const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<
        string,
        { dtype: string; shape: number[]; data_offsets: [number, number] }
      >;
      const entries = Object.entries(header).filter(([k]) => k !== '__metadata__');
      expect(entries.map(([k]) => k).sort()).toEqual(Object.keys(weights).sort());
      const sorted = entries.map(([, e]) => e.data_offsets).sort((x, y) => x[0] - y[0]);
      let expectedBegin = 0;
      for (const [begin, end] of sorted) {
        expect(begin).toBe(expectedBegin);
        expectedBegin = end;
      }
      expect(8 + n + expectedBegin).toBe(bytes.length);
      for (const [name, e] of entries) {
        expect(e.dtype).toBe('F32');
        const w = weights[name];
        expect(e.shape).toEqual(w?.shape);
        const raw = bytes.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]);
        const values = Array.from({ length: raw.length / 4 }, (_, i) => raw.readFloatLE(i * 4));
        expect(values).toEqual(Array.from(w?.values ?? []));
      }
    }
    // adapters live only in the adapter file
    const base = decodeSafetensors(await readFile(join(path, 'base.safetensors')));
    expect(Object.keys(base.tensors).some((k) => k.includes('lora'))).toBe(false);
    m.dispose();
  });

  it('refuses another tokenizer, naming both', async () => {
    const m = createModel({ spec, tokenizer: tok, corpus: samples, seed: 4 });
    const path = join(dir, 'tok');
    await m.save(path);
    m.dispose();
    const other = new WordTokenizer(['x', 'y'], { name: 'other-words' });
    await expect(loadModel(path, other)).rejects.toThrow(/saved with tokenizer 'test-words'.*given 'other-words'/);
  });

  it('rejects corrupt safetensors with the tensor and the problem named', async () => {
    const good = encodeSafetensors({ w: { shape: [2, 2], values: Float32Array.from([1, 2, 3, 4]) } });
    expect(Array.from(decodeSafetensors(good).tensors.w?.values ?? [])).toEqual([1, 2, 3, 4]);
    const truncated = good.subarray(0, good.length - 4);
    expect(() => decodeSafetensors(truncated, 'x.safetensors')).toThrow(/x.safetensors: tensor 'w' data_offsets \[0, 16\) do not fit/);
    const path = join(dir, 'bad.safetensors');
    await writeFile(path, Buffer.from([1, 2, 3]));
    await expect(readSafetensors(path)).rejects.toThrow(/bad.safetensors: 3 bytes is too short/);
  });
});
