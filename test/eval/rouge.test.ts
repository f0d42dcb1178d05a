import { describe, expect, it } from 'vitest';
import { lcsLength, meanRougeLF, rougeL, rougeTokenize } from '../../core/eval/rouge.js';

describe('rougeTokenize (rouge-score conventions)', () => {
  it('lower-cases, splits on non-alphanumerics and drops empties', () => {
    expect(rougeTokenize("The Cat's hat, 2nd-place!")).toEqual(['the', 'cat', 's', 'hat', '2nd', 'place']);
    expect(rougeTokenize('#Person1#: Hi!\nBye.')).toEqual(['person1', 'hi', 'bye']);
    // Non-ASCII letters are separators, not letters.
    expect(rougeTokenize('café naïve')).toEqual(['caf', 'na', 've']);
    expect(rougeTokenize(' ... ')).toEqual([]);
  });

  it('does not stem', () => {
    expect(rougeTokenize('running runs')).toEqual(['running', 'runs']);
  });
});

describe('rougeL', () => {
  it('matches hand-computed values', () => {
    expect(lcsLength(['a', 'b', 'c', 'd'], ['b', 'd', 'c'])).toBe(2);
    // Target 6 tokens, prediction 5, LCS 5: P = 1, R = 5/6, F = 10/11.
    const s = rougeL('the cat sat on the mat', 'The cat on the mat.');
    expect(s.precision).toBe(1);
    expect(s.recall).toBeCloseTo(5 / 6, 12);
    expect(s.fmeasure).toBeCloseTo(10 / 11, 12);
  });

  it('matches the rouge-score README example', () => {
    // LCS "the quick brown jumps the" = 5; |prediction| = 8, |target| = 9.
    const s = rougeL('The quick brown fox jumps over the lazy dog', 'The quick brown dog jumps on the log.');
    expect(s.precision).toBeCloseTo(0.625, 12);
    expect(s.recall).toBeCloseTo(5 / 9, 12);
    expect(s.fmeasure).toBeCloseTo(0.5882352941176471, 12);
  });

  it('takes (target, prediction) in that order', () => {
    const s = rougeL('a b', 'a b c d');
    expect([s.precision, s.recall]).toEqual([0.5, 1]);
  });

  it('scores 0 for empty or disjoint texts', () => {
    expect(rougeL('', 'anything').fmeasure).toBe(0);
    expect(rougeL('something', '!!!').fmeasure).toBe(0);
    expect(rougeL('one two', 'three four').fmeasure).toBe(0);
  });
});

describe('meanRougeLF', () => {
  it('averages F over samples', () => {
    // F = 1, F = 0 and F = 2 * (1/2 * 1) / (1/2 + 1) = 2/3.
    expect(meanRougeLF(['a b', 'c', 'a b'], ['A, B', 'd', 'a b c d'])).toBeCloseTo((1 + 0 + 2 / 3) / 3, 12);
  });

  it('rejects mismatched or empty inputs', () => {
    expect(() => meanRougeLF(['a'], [])).toThrow(/1 references but 0 predictions/);
    expect(() => meanRougeLF([], [])).toThrow(/no samples/);
  });
});
