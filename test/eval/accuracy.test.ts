import { describe, expect, it } from 'vitest';
import { accNormLength, argmaxFirst, choiceAccuracy, choiceAccuracyByDomain } from '../../core/eval/accuracy.js';
import type { ChoiceItem, ChoiceScores } from '../../core/models/model.js';

const scores = (logLikelihood: number[][]): ChoiceScores => ({
  logLikelihood,
  choiceChars: logLikelihood.map((row) => row.map(() => 0)),
});

describe('accNormLength', () => {
  it('counts code points of the choice without the target delimiter', () => {
    expect(accNormLength(' yes')).toBe(3);
    expect(accNormLength('yes')).toBe(3);
    expect(accNormLength('  two')).toBe(4);
    expect(accNormLength(' café')).toBe(4);
    expect(accNormLength(' 𝔸b')).toBe(2);
    expect(() => accNormLength(' ')).toThrow(/empty/);
  });
});

describe('argmaxFirst', () => {
  it('returns the first maximum, as np.argmax', () => {
    expect(argmaxFirst([-3, -1, -1, -2])).toBe(1);
    expect(argmaxFirst([-5])).toBe(0);
    expect(argmaxFirst([NaN, -2, -1])).toBe(2);
  });
});

describe('choiceAccuracy', () => {
  const items: ChoiceItem[] = [
    // acc picks the short choice; per character the long one wins: -4/1 = -4 vs -6/10 = -0.6.
    { prompt: 'q1', choices: [' a', ' abcdefghij'], label: 1 },
    // Both agree on choice 0.
    { prompt: 'q2', choices: [' no', ' yes'], label: 0 },
    // Exact tie in both metrics: the first choice wins.
    { prompt: 'q3', choices: [' ab', ' cd'], label: 1 },
    // acc right, acc_norm wrong: -2/2 = -1 vs -3/6 = -0.5.
    { prompt: 'q4', choices: [' ok', ' accept'], label: 0 },
  ];
  const lls = [
    [-4, -6],
    [-1, -2],
    [-2.5, -2.5],
    [-2, -3],
  ];

  it('computes acc and acc_norm on hand-made scores', () => {
    const result = choiceAccuracy(items, scores(lls));
    expect(result.predictions).toEqual([0, 0, 0, 0]);
    expect(result.normPredictions).toEqual([1, 0, 0, 1]);
    expect(result.acc).toBe(2 / 4);
    expect(result.accNorm).toBe(2 / 4);
    expect(result.n).toBe(4);
  });

  it('differs from a normaliser that counts the leading space', () => {
    // With the delimiter counted: -3/3 = -1 vs -4.2/4 = -1.05, so " ab" would win; without it
    // -3/2 = -1.5 vs -4.2/3 = -1.4, so " abc" wins, as in the harness.
    const result = choiceAccuracy([{ prompt: 'q', choices: [' ab', ' abc'], label: 1 }], scores([[-3, -4.2]]));
    expect(result.normPredictions).toEqual([1]);
    expect(result.accNorm).toBe(1);
  });

  it('rejects mismatched shapes and bad labels', () => {
    expect(() => choiceAccuracy(items, scores(lls.slice(1)))).toThrow(/4 items but 3 rows/);
    expect(() => choiceAccuracy(items.slice(0, 1), scores([[-1, -2, -3]]))).toThrow(/item 0 has 2 choices but 3 log-likelihoods/);
    expect(() => choiceAccuracy([{ prompt: 'q', choices: [' a', ' b'], label: 2 }], scores([[-1, -2]]))).toThrow(/label 2/);
    expect(() => choiceAccuracy([], scores([]))).toThrow(/no items/);
  });

  it('groups by domain', () => {
    const tagged = items.map((item, i) => ({ ...item, domain: i % 2 === 0 ? 'even' : 'odd' }));
    const byDomain = choiceAccuracyByDomain(tagged, scores(lls));
    expect(Object.keys(byDomain)).toEqual(['even', 'odd']);
    expect(byDomain.even).toMatchObject({ acc: 0, accNorm: 0.5, n: 2 });
    expect(byDomain.odd).toMatchObject({ acc: 1, accNorm: 0.5, n: 2 });
  });
});
