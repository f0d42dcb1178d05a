import { describe, expect, it } from 'vitest';
import { bruteForceTargets, minedTargets } from '../../core/alignment/mined.js';
import { Random } from '../../core/random.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';

describe('MinED llama2 -> gpt2', () => {
  it('equals brute force on 2000 random source tokens', async () => {
    const source = await loadTokenizer('llama2');
    const target = await loadTokenizer('gpt2');
    const rng = new Random(2024);
    const sample = Int32Array.from({ length: 2000 }, () => rng.int(source.vocabSize));
    const fast = minedTargets(source, target, sample);
    const brute = bruteForceTargets(source, target, sample);
    expect(Array.from(fast.distance)).toEqual(Array.from(brute.distance));
    expect(Array.from(fast.targetOf)).toEqual(Array.from(brute.targetOf));
    // The sample must exercise the far searches, not only exact matches.
    expect(Math.max(...fast.distance)).toBeGreaterThanOrEqual(5);
  });
});
