/**
 * A seeded, disjoint train/evaluation cut for tasks whose shared files hold one split only
 * (RTE, WiC and CommonsenseQA ship their train file; BoolQ and DialogSum their validation file).
 * Evaluation items are never in the training set. Both sides keep file order.
 */
import { Random } from '../../random.js';
import type { ChoiceExample, MultipleChoiceTask } from '../task.js';

export const DEFAULT_EVAL_FRACTION = 0.2;

export function holdOut<T>(records: readonly T[], fraction: number, seed: number, name: string): { train: T[]; test: T[] } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`${name}: evalFraction must be in (0, 1), got ${fraction}`);
  const count = Math.round(records.length * fraction);
  if (count === 0 || count === records.length) {
    throw new Error(`${name}: evalFraction ${fraction} of ${records.length} records leaves an empty train or evaluation set`);
  }
  const order = Random.stream(seed, `holdout/${name}`).shuffle(records.map((_, i) => i));
  const isTest = new Set(order.slice(0, count));
  return {
    train: records.filter((_, i) => !isTest.has(i)),
    test: records.filter((_, i) => isTest.has(i)),
  };
}

/** A seeded sample of at most `limit` items, in their original order. */
export function sampleInOrder<T>(items: readonly T[], limit: number | undefined, seed: number, name: string): T[] {
  if (limit === undefined) return items.slice();
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`limit must be a non-negative integer, got ${limit}`);
  if (limit >= items.length) return items.slice();
  const keep = new Set(
    Random.stream(seed, `limit/${name}`)
      .shuffle(items.map((_, i) => i))
      .slice(0, limit),
  );
  return items.filter((_, i) => keep.has(i));
}

/**
 * A multiple-choice task read from one file: a seeded held-out share of its examples evaluates,
 * the rest trains (RTE, WiC, CommonsenseQA, BoolQ).
 */
export function heldOutChoiceTask(name: string, file: string, examples: readonly ChoiceExample[], seed: number, evalFraction: number): MultipleChoiceTask {
  const { train, test } = holdOut(examples, evalFraction, seed, name);
  return {
    kind: 'multiple-choice',
    name,
    train,
    test: test.map(({ prompt, choices, label, domain }) => ({ prompt, choices, label, domain })),
    source: { trainFile: file, testFile: file, heldOut: { fraction: evalFraction, seed } },
  };
}
