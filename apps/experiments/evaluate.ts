/**
 * Evaluation as the field does it, on the run's held-out items only:
 * - multiple choice: accuracy by the log-likelihood of each answer choice given the prompt,
 *   `acc` and `acc_norm` as lm-evaluation-harness computes them (core/eval/accuracy.ts);
 * - generation (DialogSum): greedy generation, Rouge-L F against the reference with Google
 *   rouge-score conventions (core/eval/rouge.ts), averaged over items.
 * Nothing here trains, and nothing a run decides during training reads these figures.
 */
import type { FederationData } from '../../actors/federation-data.js';
import { choiceAccuracy } from '../../core/eval/accuracy.js';
import { meanRougeLF } from '../../core/eval/rouge.js';
import type { LanguageModel } from '../../core/models/model.js';

export type MetricName = 'acc' | 'rougeL';

export interface Score {
  metric: MetricName;
  /** acc (multiple choice) or mean Rouge-L F (generation). */
  value: number;
  /** acc_norm (multiple choice only). */
  accNorm?: number;
  /** Items evaluated. */
  n: number;
}

export interface EvaluateOptions {
  /** Generation: most new tokens per prompt (capped to leave half the model's context to the prompt). */
  maxNewTokens: number;
  /** The model's context length, when known (generation only). */
  maxSeqLen?: number;
}

export async function evaluateModel(model: LanguageModel, data: FederationData, options: EvaluateOptions): Promise<Score> {
  if (data.kind === 'generation') {
    const items = data.generationTestSet;
    if (items.length === 0) throw new Error('evaluate: the generation task has no evaluation items');
    if (!model.generate) throw new Error('evaluate: this model cannot generate, so a generation task cannot be scored');
    const cap = options.maxSeqLen ? Math.max(1, Math.floor(options.maxSeqLen / 2)) : options.maxNewTokens;
    const outputs = await model.generate(
      items.map((i) => i.prompt),
      { maxNewTokens: Math.min(options.maxNewTokens, cap) },
    );
    return {
      metric: 'rougeL',
      value: meanRougeLF(
        items.map((i) => i.reference),
        outputs,
      ),
      n: items.length,
    };
  }
  const items = data.testSet;
  if (items.length === 0) throw new Error('evaluate: the task has no evaluation items');
  const { acc, accNorm, n } = choiceAccuracy(items, await model.scoreChoices(items));
  return { metric: 'acc', value: acc, accNorm, n };
}
