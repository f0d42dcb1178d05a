/**
 * The server's learning (steps 3, 4, 5): its LLM and the public set. Knows nothing of
 * transports or machines; the server actor calls it.
 */
import type { AlignedTeacher, AlignmentStats, TokenAlignment } from '../alignment/aligned-teacher.js';
import type { AdapterWeights, LanguageModel } from '../models/model.js';
import type { PublicLogits } from '../protocol/messages.js';
import type { LearnerSettings, PartyData } from './client-learner.js';
import { distillWithSelection, type DistillResult } from './distill-with-selection.js';
import { evaluateChoices, type Evaluation } from './evaluation.js';
import { averageAdapters } from './fedavg.js';

export class ServerLearner {
  /** The LLM's own top-K for the current weights (only step 4 changes them). */
  private own: PublicLogits | null = null;

  constructor(
    readonly model: LanguageModel,
    readonly data: Pick<PartyData, 'publicSet' | 'testSet'>,
    private readonly aligner: TokenAlignment,
    readonly settings: LearnerSettings,
  ) {}

  /** The LLM's top-K before distillation: its DualMinCE "itself" and the alignment target. */
  async ownLogits(): Promise<PublicLogits> {
    this.own ??= await this.model.scorePublic(this.data.publicSet, this.settings.topK);
    return this.own;
  }

  /** The top-K of the current weights when already computed: a round checkpoint keeps them, so that a resumed run goes on as the uninterrupted one does (without scoring again). */
  cachedOwnLogits(): PublicLogits | null {
    return this.own;
  }

  /** A resumed run: the top-K its checkpoint kept, for the weights it restored. */
  restoreOwnLogits(logits: PublicLogits): void {
    this.own = logits;
  }

  /** Step 3: each SLM's upload onto the LLM's tokenisation. */
  async alignSLMTokens(uploads: readonly PublicLogits[]): Promise<{ teacher: AlignedTeacher; stats: AlignmentStats }[]> {
    const own = await this.ownLogits();
    const out: { teacher: AlignedTeacher; stats: AlignmentStats }[] = [];
    for (const upload of uploads) out.push(await this.aligner.align(upload, own, this.settings.alignmentFallback));
    return out;
  }

  /** Step 4: DualMinCE over {itself, aligned SLMs}, then distillation into the LLM. */
  async distillFromSLMs(slmTeachers: readonly AlignedTeacher[], weights?: readonly number[]): Promise<DistillResult> {
    const { distillEpochs, learningRate, batchSize, kdAlpha, temperature } = this.settings;
    const own = await this.ownLogits();
    const options = { epochs: distillEpochs, learningRate, batchSize, kdAlpha, temperature };
    const result = await distillWithSelection(this.model, this.data.publicSet, own, slmTeachers, options, weights);
    if (result.stats.steps > 0) this.own = null;
    return result;
  }

  /** Step 5: the LLM's top-K after this round's distillation (unchanged weights are not rescored, as with a frozen LLM). */
  computeLLMLogits(): Promise<PublicLogits> {
    return this.ownLogits();
  }

  averageAdapters(adapters: readonly { weights: AdapterWeights; weight: number }[]): AdapterWeights {
    return averageAdapters(adapters);
  }

  evaluate(): Promise<Evaluation> {
    return evaluateChoices(this.model, this.data.testSet);
  }
}
