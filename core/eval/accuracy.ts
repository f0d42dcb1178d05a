/**
 * Multiple-choice accuracy from choice log-likelihoods, as lm-evaluation-harness computes it
 * (lm_eval/api/task.py, MultipleChoiceTask.process_results):
 *   pred      = np.argmax(lls)
 *   pred_norm = np.argmax(lls / completion_len),  completion_len = [float(len(i)) for i in choices]
 * where `choices` are the doc_to_choice strings, i.e. WITHOUT the target delimiter " " that is
 * prepended when the continuation is scored, and Python's len counts Unicode code points (not
 * bytes, not tokens). np.argmax returns the first maximum, so ties go to the first choice.
 *
 * Our ChoiceItem choices carry that leading space, so the normaliser is the code-point length
 * of the choice with one leading space removed. It is derived from the items rather than from
 * ChoiceScores.choiceChars so that it cannot silently disagree with the harness.
 */
import type { ChoiceItem, ChoiceScores } from '../models/model.js';

export interface ChoiceAccuracy {
  /** Share of items whose highest-likelihood choice is the gold one. */
  acc: number;
  /** Same, with each likelihood divided by its choice's length (see above). */
  accNorm: number;
  n: number;
  /** Per item, the argmax choice for acc and for acc_norm. */
  predictions: number[];
  normPredictions: number[];
}

/** Index of the first maximum (np.argmax). NaN never wins. */
export function argmaxFirst(values: readonly number[]): number {
  if (values.length === 0) throw new Error('argmax of an empty list');
  let best = 0;
  for (let i = 1; i < values.length; i++) {
    if ((values[i] as number) > (values[best] as number) || Number.isNaN(values[best] as number)) best = i;
  }
  return best;
}

/** lm-evaluation-harness's acc_norm length of a choice: code points, target delimiter excluded. */
export function accNormLength(choice: string): number {
  const text = choice.startsWith(' ') ? choice.slice(1) : choice;
  const length = Array.from(text).length;
  if (length === 0) throw new Error(`choice ${JSON.stringify(choice)} is empty: acc_norm is undefined for it`);
  return length;
}

export function choiceAccuracy(items: readonly ChoiceItem[], scores: ChoiceScores): ChoiceAccuracy {
  const lls = scores.logLikelihood;
  if (lls.length !== items.length) {
    throw new Error(`choiceAccuracy: ${items.length} items but ${lls.length} rows of log-likelihoods`);
  }
  if (items.length === 0) throw new Error('choiceAccuracy: no items');
  const predictions: number[] = [];
  const normPredictions: number[] = [];
  let hits = 0;
  let normHits = 0;
  items.forEach((item, i) => {
    const row = lls[i] as number[];
    if (row.length !== item.choices.length) {
      throw new Error(`choiceAccuracy: item ${i} has ${item.choices.length} choices but ${row.length} log-likelihoods`);
    }
    if (!Number.isInteger(item.label) || item.label < 0 || item.label >= item.choices.length) {
      throw new Error(`choiceAccuracy: item ${i} has label ${item.label} outside its ${item.choices.length} choices`);
    }
    const pred = argmaxFirst(row);
    const predNorm = argmaxFirst(row.map((ll, c) => ll / accNormLength(item.choices[c] as string)));
    predictions.push(pred);
    normPredictions.push(predNorm);
    if (pred === item.label) hits++;
    if (predNorm === item.label) normHits++;
  });
  return { acc: hits / items.length, accNorm: normHits / items.length, n: items.length, predictions, normPredictions };
}

/** choiceAccuracy per domain (keys sorted), for items tagged with a domain. */
export function choiceAccuracyByDomain(items: readonly (ChoiceItem & { domain: string })[], scores: ChoiceScores): Record<string, ChoiceAccuracy> {
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => groups.set(item.domain, [...(groups.get(item.domain) ?? []), i]));
  const out: Record<string, ChoiceAccuracy> = {};
  for (const domain of [...groups.keys()].sort()) {
    const idx = groups.get(domain) as number[];
    out[domain] = choiceAccuracy(
      idx.map((i) => items[i] as ChoiceItem),
      {
        logLikelihood: idx.map((i) => scores.logLikelihood[i] as number[]),
        choiceChars: idx.map((i) => scores.choiceChars[i] ?? []),
      },
    );
  }
  return out;
}
