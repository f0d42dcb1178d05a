/**
 * Hugging Face layouts: tiny GPT-2, OPT, BLOOM, Qwen2 and LLaMA checkpoints written from random
 * numbers load into networks whose logits equal a forward pass in Hugging Face's conventions
 * (hf-reference.ts), over F32, F16 and BF16 files, one file or shards; what the loader does not
 * know is refused by name.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/models/backend.js';
import { createModel } from '../../core/models/factory.js';
import { INFERENCE } from '../../core/models/network.js';
import { parseScenario } from '../../core/scenario/load.js';
import { WordTokenizer } from '../models/word-tokenizer.js';
import { hfReferenceLogits, tinyHfConfig, tinyHfTensors, writeHfFolder, writeSafetensorsAs, type TinyConfig } from './hf-reference.js';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'fedmkt-hf-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

// 4 specials and 10 word pieces: 14 tokens on a checkpoint of 16 rows (2 padding rows)
const words = ['a', 'b', 'c', 'd', 'e'];
const withUnk = new WordTokenizer(words, { name: 'words-unk' });
const noUnk = new WordTokenizer(words, { name: 'words-no-unk', specials: false });
const base: Omit<TinyConfig, 'type'> = { vocab: 16, d: 8, heads: 2, kvHeads: 2, ff: 12, layers: 2, positions: 10, tied: true };
// ids below 10: the tokenizer without specials has 10 tokens
const ids = [1, 7, 4, 9, 3, 8];

let folders = 0;
function folder(
  c: TinyConfig,
  options: Parameters<typeof writeHfFolder>[3] = {},
  edit?: (config: Record<string, unknown>, tensors: ReturnType<typeof tinyHfTensors>) => void,
): string {
  const dir = join(root, `m${folders++}`);
  const config = tinyHfConfig(c);
  const tensors = tinyHfTensors(c, 17);
  edit?.(config, tensors);
  writeHfFolder(dir, config, tensors, options);
  return dir;
}

describe('Hugging Face checkpoints load with the logits of their own forward pass', () => {
  it.each([
    ['gpt2', {}, 'with unk', 'F32'],
    ['gpt2', {}, 'without unk (rows shifted by one)', 'F32'],
    ['opt', {}, 'with unk', 'BF16'],
    ['bloom', { heads: 4, ff: 32 }, 'with unk', 'F16'],
    ['qwen2', { heads: 4, kvHeads: 2 }, 'with unk', 'BF16 shards'],
    ['llama', { heads: 4, kvHeads: 1, tied: false }, 'with unk', 'F32'],
  ] as const)('%s %o, tokenizer %s, %s', (type, overrides, unk, stored) => {
    const tokenizer = unk === 'with unk' ? withUnk : noUnk;
    const dtype = stored.startsWith('BF16') ? 'BF16' : stored === 'F16' ? 'F16' : 'F32';
    const c: TinyConfig = { ...base, ...overrides, type };
    const tensors = tinyHfTensors(c, 17);
    const dir = folder(c, { dtype, sharded: type === 'qwen2' });
    const model = createModel({ spec: { checkpoint: dir }, tokenizer, seed: 1 });
    expect(model.config).toMatchObject({
      arch: type,
      heads: c.heads,
      kvHeads: type === 'qwen2' || type === 'llama' ? c.kvHeads : c.heads,
      tieEmbeddings: c.tied || !['llama', 'qwen2'].includes(type) ? expect.anything() : false,
    });
    const modelIds = Int32Array.from(ids, (id) => model.vocab.toModel(id));
    const got = model.network.logits(modelIds, { batch: 1, seqLen: ids.length }, INFERENCE).arraySync() as number[][];
    const want = hfReferenceLogits(c, tensors, ids);
    let worst = 0;
    got.forEach((logits, p) =>
      logits.forEach((v, m) => {
        const row = model.vocab.toTokenizer(m);
        // a tokenizer without unk: the model's unk has a zero row and no stored one
        worst = Math.max(worst, Math.abs(v - (row < 0 ? 0 : ((want[p] as number[])[row] as number))));
      }),
    );
    expect(worst).toBeLessThan(1e-4);
    expect(model.vocab.size).toBe(tokenizer === noUnk ? 11 : 14);
    model.dispose();
  });
});

describe('what the loader does not know is refused by name', () => {
  const llama: TinyConfig = { ...base, type: 'llama', heads: 2, kvHeads: 2 };
  const load = (dir: string, tokenizer = withUnk): unknown => createModel({ spec: { checkpoint: dir }, tokenizer, seed: 1 });

  it('a stored tensor outside the layout, and a missing one', () => {
    const extra = folder(llama, {}, (_, t) => void (t['model.layers.0.self_attn.q_norm.weight'] = { shape: [4], values: new Float32Array(4) }));
    expect(() => load(extra)).toThrow(/tensor 'model\.layers\.0\.self_attn\.q_norm\.weight' \(shape \[4\]\) is not part of the llama layout/);
    const missing = folder(llama, {}, (_, t) => void delete t['model.layers.1.mlp.up_proj.weight']);
    expect(() => load(missing)).toThrow(/tensor 'model\.layers\.1\.mlp\.up_proj\.weight' \(for llama parameter 'layers\.1\.mlp\.up\.w'\) is missing/);
    const misshapen = folder(llama, {}, (_, t) => void (t['model.norm.weight'] = { shape: [9], values: new Float32Array(9) }));
    expect(() => load(misshapen)).toThrow(/tensor 'model\.norm\.weight' has shape \[9\], expected \[8\]/);
  });

  it('config settings the architectures do not implement, by field', () => {
    expect(() => load(folder({ ...base, type: 'gpt2' }, {}, (config) => void (config.activation_function = 'gelu')))).toThrow(
      /config\.json: "activation_function": "gelu" is not supported/,
    );
    expect(() => load(folder(llama, {}, (config) => void (config.attention_bias = true)))).toThrow(/"attention_bias": true is not supported/);
    expect(() => load(folder(llama, {}, (config) => void (config.model_type = 'mistral')))).toThrow(
      /model_type "mistral" is not supported \(supported: llama, qwen2, gpt2, opt, bloom\)/,
    );
    expect(() => load(folder({ ...base, type: 'opt' }, {}, (config) => void (config.do_layer_norm_before = false)))).toThrow(
      /"do_layer_norm_before": false is not supported/,
    );
  });

  it('a tokenizer larger than the embedding, paths that are not checkpoints, a dtype it cannot read', () => {
    const small = folder({ ...llama, vocab: 8 });
    expect(() => load(small)).toThrow(/its embedding has 8 rows, but tokenizer 'words-unk' has 14 tokens/);
    expect(() => load(join(root, 'nowhere'))).toThrow(/checkpoint .*nowhere: no such file or folder/);
    expect(() => load(join(small, 'model.safetensors'))).toThrow(/give the Hugging Face model folder/);
    const dir = folder(llama);
    writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([Buffer.from([20, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"x":{"dtype":"I64",').subarray(0, 20)]));
    expect(() => load(dir)).toThrow(/safetensors .*: header is not valid JSON/);
    writeSafetensorsAs(join(dir, 'model.safetensors'), {}, 'F32');
    expect(() => load(dir)).toThrow(/no token embedding 'model\.embed_tokens\.weight' or 'embed_tokens\.weight'/);
  });

  it('a scenario names a bad checkpoint at its line', () => {
    const yaml = ['name: t', 'rounds: 1', 'server:', `  model: { checkpoint: ${join(root, 'nowhere')} }`, 'clients:', '  - { id: c1, model: gpt2-tiny }'].join(
      '\n',
    );
    expect(() => parseScenario(yaml, 's.yaml')).toThrow(/line 4: server\.model\.checkpoint: checkpoint .*nowhere: no such file or folder/);
    const badTokenizer = [
      'name: t',
      'rounds: 1',
      'server: { model: llama-tiny, tokenizer: ./no/tok512.bin }',
      'clients:',
      '  - { id: c1, model: gpt2-tiny }',
    ].join('\n');
    expect(() => parseScenario(badTokenizer, 's.yaml')).toThrow(/line 3: server\.tokenizer: tokenizer file \.\/no\/tok512\.bin does not exist/);
    const typo = [
      'name: t',
      'rounds: 1',
      'server: { model: { arch: llama, layers: 1, heads: 2, dModel: 8, lora: {}, extra: 1 } }',
      'clients:',
      '  - { id: c1, model: gpt2-tiny }',
    ].join('\n');
    expect(() => parseScenario(typo, 's.yaml')).toThrow(/server\.model\.extra: unknown field/);
  });
});
