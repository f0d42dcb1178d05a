import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { minedVocabMap, type VocabMap } from '../../core/alignment/mined.js';
import { defaultVocabMapCacheDir, VocabMapCache } from '../../core/alignment/vocab-map-cache.js';
import type { Tokenizer } from '../../core/tokenizers/tokenizer.js';
import { ListTokenizer } from './list-tokenizer.js';

const source = new ListTokenizer('s', ['▁a', 'b', '▁abc', '<s>'], '▁', { bos: 3 }, [3]);
const target = new ListTokenizer('t', ['<bos>', 'ab', '▁a', 'c'], '▁', { bos: 0 }, [0]);

describe('vocab map cache', () => {
  let dir = '';
  let computed = 0;
  const counting = (s: Tokenizer, t: Tokenizer): VocabMap => {
    computed++;
    return minedVocabMap(s, t);
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmkt-vocab-maps-'));
    computed = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults to .cache/fedmkt/vocab-maps under the working directory', () => {
    expect(defaultVocabMapCacheDir('/work/x')).toBe('/work/x/.cache/fedmkt/vocab-maps');
  });

  it('computes once, then serves from memory and from disk', async () => {
    const first = await new VocabMapCache(dir, counting).get(source, target);
    expect(Array.from(first.targetOf)).toEqual([2, 1, 1, 0]);
    expect(await readdir(dir)).toHaveLength(1);
    const fresh = new VocabMapCache(dir, counting);
    const second = await fresh.get(source, target);
    expect(computed).toBe(1);
    expect(Array.from(second.targetOf)).toEqual(Array.from(first.targetOf));
    expect(Array.from(second.distance)).toEqual(Array.from(first.distance));
    expect(await fresh.get(source, target)).toBe(second);
  });

  it('keys by content hash and direction, and recomputes a damaged file', async () => {
    const cache = new VocabMapCache(dir, counting);
    await cache.get(source, target);
    await cache.get(target, source);
    expect(computed).toBe(2);
    // Same files under another name (as `opt` and `gpt2`): the same entry.
    const renamed = new ListTokenizer('renamed', ['▁a', 'b', '▁abc', '<s>'], '▁', { bos: 3 }, [3]);
    await new VocabMapCache(dir, counting).get(renamed, target);
    expect(computed).toBe(2);
    await writeFile(cache.fileFor(source, target), '{"format": 1, "targetOf": "AAAA"');
    const again = await new VocabMapCache(dir, counting).get(source, target);
    expect(computed).toBe(3);
    expect(Array.from(again.targetOf)).toEqual([2, 1, 1, 0]);
  });

  it('maps identical tokenizers to themselves without touching disk', async () => {
    const map = await new VocabMapCache(dir, counting).get(source, source);
    expect(Array.from(map.targetOf)).toEqual([0, 1, 2, 3]);
    expect(computed).toBe(0);
    expect(await readdir(dir)).toHaveLength(0);
  });
});
