import { choiceAccuracy } from '../eval/accuracy.js';
import type { ChoiceItem, LanguageModel } from '../models/model.js';

export interface Evaluation {
  /** lm-evaluation-harness `acc`. */
  accuracy: number;
  /** lm-evaluation-harness `acc_norm`. */
  accuracyNorm: number;
}

/** Multiple-choice accuracy by answer log-likelihood on a held-out split. */
export async function evaluateChoices(model: LanguageModel, items: readonly ChoiceItem[]): Promise<Evaluation> {
  if (items.length === 0) return { accuracy: Number.NaN, accuracyNorm: Number.NaN };
  const scores = await model.scoreChoices(items);
  const { acc, accNorm } = choiceAccuracy(items, scores);
  return { accuracy: acc, accuracyNorm: accNorm };
}
