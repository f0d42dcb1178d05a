/**
 * A client's learning (steps 1, 2, 7, 8): its SLM, its private shard, the public set.
 * Knows nothing of transports or machines; the client actor calls it.
 */
import type { AlignedTeacher, AlignmentFallback, AlignmentStats, TokenAlignment } from '../alignment/aligned-teacher.js';
import type { AdapterWeights, ChoiceItem, LanguageModel, TextSample, TrainStats } from '../models/model.js';
import type { PublicLogits } from '../protocol/messages.js';
import { distillWithSelection, type DistillResult } from './distill-with-selection.js';
import { evaluateChoices, type Evaluation } from './evaluation.js';

export interface LearnerSettings {
  topK: number;
  kdAlpha: number;
  temperature: number;
  alignmentFallback: AlignmentFallback;
  privateEpochs: number;
  distillEpochs: number;
  learningRate: number;
  batchSize: number;
}

export interface PartyData {
  privateSet: readonly TextSample[];
  publicSet: readonly TextSample[];
  testSet: readonly ChoiceItem[];
}

export class ClientLearner {
  constructor(
    readonly model: LanguageModel,
    readonly data: PartyData,
    private readonly aligner: TokenAlignment,
    readonly settings: LearnerSettings,
  ) {}

  /** Step 1. */
  trainPrivate(): Promise<TrainStats> {
    const { privateEpochs, learningRate, batchSize } = this.settings;
    if (privateEpochs === 0 || this.data.privateSet.length === 0) return Promise.resolve({ loss: Number.NaN, tokens: 0, steps: 0 });
    return this.model.trainEpochs(this.data.privateSet, { epochs: privateEpochs, learningRate, batchSize });
  }

  /** Step 2 (the upload itself is the actor's). */
  computePublicLogits(): Promise<PublicLogits> {
    return this.model.scorePublic(this.data.publicSet, this.settings.topK);
  }

  /** Step 7. */
  alignLLMTokens(llm: PublicLogits, own: PublicLogits): Promise<{ teacher: AlignedTeacher; stats: AlignmentStats }> {
    return this.aligner.align(llm, own, this.settings.alignmentFallback);
  }

  /** Step 8: DualMinCE between the aligned LLM (if it came) and itself, then distillation. */
  distillFromLLM(llmTeacher: AlignedTeacher | null, own: PublicLogits): Promise<DistillResult> {
    const { distillEpochs, learningRate, batchSize, kdAlpha, temperature } = this.settings;
    return distillWithSelection(this.model, this.data.publicSet, own, llmTeacher ? [llmTeacher] : [], {
      epochs: distillEpochs,
      learningRate,
      batchSize,
      kdAlpha,
      temperature,
    });
  }

  getAdapter(): AdapterWeights {
    return this.model.getAdapter();
  }

  setAdapter(weights: AdapterWeights): void {
    this.model.setAdapter(weights);
  }

  evaluate(): Promise<Evaluation> {
    return evaluateChoices(this.model, this.data.testSet);
  }
}
