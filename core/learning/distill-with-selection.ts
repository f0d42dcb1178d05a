import type { AlignedTeacher } from '../alignment/aligned-teacher.js';
import { identityTeacher } from '../alignment/aligned-teacher.js';
import type { DistillOptions, LanguageModel, TextSample, TrainStats } from '../models/model.js';
import type { PublicLogits } from '../protocol/messages.js';
import { selectTeachers } from './selection.js';

export interface DistillResult {
  stats: TrainStats;
  /** Per public sample, the teacher DualMinCE chose: -1 = itself, i = candidates[i]. */
  chosen: Int32Array;
}

/**
 * Steps 4 and 8: DualMinCE picks, per public sample, the lowest-CE teacher among the
 * receiver itself (its own top-K computed before this step) and the aligned candidates;
 * then the receiver is distilled with kd_alpha * CE + (1 - kd_alpha) * KD.
 */
export async function distillWithSelection(
  model: LanguageModel,
  publicSet: readonly TextSample[],
  own: PublicLogits,
  candidates: readonly AlignedTeacher[],
  options: DistillOptions,
  /** Staleness weights of the candidates (asynchronous modes); none: all fresh. */
  weights?: readonly number[],
): Promise<DistillResult> {
  const { teacher, chosen } = selectTeachers(identityTeacher(own), candidates, weights);
  if (options.epochs === 0) return { stats: { loss: Number.NaN, tokens: 0, steps: 0 }, chosen };
  const stats = await model.distillEpochs(publicSet, teacher, options);
  return { stats, chosen };
}
