import { describe, expect, it } from 'vitest';
import { BitParallelPattern, levenshtein } from '../../core/alignment/levenshtein.js';
import { Random } from '../../core/random.js';

const codes = (text: string) => Array.from(text, (ch) => ch.codePointAt(0) as number);

function randomString(rng: Random, length: number, alphabet: number): number[] {
  return Array.from({ length }, () => rng.int(alphabet));
}

describe('Levenshtein distance', () => {
  it('gives textbook distances', () => {
    expect(levenshtein(codes('kitten'), codes('sitting'))).toBe(3);
    expect(levenshtein(codes(''), codes('abc'))).toBe(3);
    expect(levenshtein(codes('abc'), codes(''))).toBe(3);
    expect(levenshtein(codes('flaw'), codes('lawn'))).toBe(2);
    expect(levenshtein(codes('same'), codes('same'))).toBe(0);
  });

  it('bit-parallel (Myers/Hyyrö) equals the dynamic programme, and stops above a bound', () => {
    const rng = new Random(11);
    const pattern = new BitParallelPattern(6);
    for (let trial = 0; trial < 3000; trial++) {
      const a = randomString(rng, rng.int(33), 1 + rng.int(6));
      const b = randomString(rng, rng.int(41), 6);
      const exact = levenshtein(a, b);
      pattern.load(a, 0, a.length);
      expect(pattern.distance(b, 0, b.length, Infinity)).toBe(exact);
      const bound = rng.int(8);
      const bounded = pattern.distance(b, 0, b.length, bound);
      if (exact <= bound) expect(bounded).toBe(exact);
      else expect(bounded).toBeGreaterThan(bound);
    }
  });

  it('refuses patterns longer than one machine word', () => {
    const pattern = new BitParallelPattern(2);
    expect(() => pattern.load(new Array<number>(33).fill(0), 0, 33)).toThrow(/33 symbols exceeds 32/);
  });
});
