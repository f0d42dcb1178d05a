/**
 * The seam between the protocol and learning (as Flower's Client is to its Strategy):
 * actors call these methods; the machines never see tensors, and models never see transports.
 */
import type { AdapterTensors, PublicLogits } from '../protocol/messages.js';
import type { AlignedTeacher } from '../alignment/aligned-teacher.js';

/** A labelled prompt/answer pair. The answer carries its own leading space (`" blue"`). */
export interface TextSample {
  prompt: string;
  answer: string;
}

/** A multiple-choice question scored by answer log-likelihood. */
export interface ChoiceItem {
  prompt: string;
  /** Each choice with its leading space, as the answer of a TextSample would be. */
  choices: string[];
  /** Index of the correct choice. */
  label: number;
}

export interface TrainOptions {
  epochs: number;
  learningRate: number;
  batchSize: number;
  /** Told after each epoch (1-based) with its mean loss: progress of long trainings. */
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface DistillOptions extends TrainOptions {
  /** Weight of the supervised term: loss = kdAlpha * CE + (1 - kdAlpha) * KD. */
  kdAlpha: number;
  /** Teacher distribution is softmax(topK logits / temperature). */
  temperature: number;
}

export interface TrainStats {
  /** Mean training loss of the last epoch. */
  loss: number;
  /** Tokens processed (all epochs), for throughput figures. */
  tokens: number;
  /** Optimiser steps taken. */
  steps: number;
  /** Floating-point operations of the products the steps ran (core/models/flops.ts), padding
   * included; absent for models that do not count them. */
  flops?: number;
}

export interface ChoiceScores {
  /** Per item, per choice: summed log-probability of the choice tokens given the prompt. */
  logLikelihood: number[][];
  /** Per item, per choice: the choice's length in characters (for acc_norm as lm-eval-harness). */
  choiceChars: number[][];
}

/** LoRA adapter weights, by parameter name: what FedAvg messages carry. */
export type AdapterWeights = AdapterTensors;

export interface LanguageModel {
  /** Registry name of this model's tokenizer; all ids it emits are that tokenizer's ids. */
  readonly tokenizer: string;
  /** Step 1: supervised fine-tuning (answer tokens only; prompt masked out). */
  trainEpochs(samples: readonly TextSample[], options: TrainOptions): Promise<TrainStats>;
  /** Steps 2 and 5: top-K logits and per-sample CE over the public set, in dataset order. */
  scorePublic(samples: readonly TextSample[], topK: number): Promise<PublicLogits>;
  /** Steps 4 and 8: distil from one teacher per sample (already selected and aligned) plus CE. */
  distillEpochs(samples: readonly TextSample[], teacher: AlignedTeacher, options: DistillOptions): Promise<TrainStats>;
  /** Evaluation: log-likelihood of each choice. */
  scoreChoices(items: readonly ChoiceItem[]): Promise<ChoiceScores>;
  /**
   * Evaluation of generation tasks: greedy continuation of each prompt (stops at eos or after
   * maxNewTokens). Optional: a model may not generate.
   */
  generate?(prompts: readonly string[], options: { maxNewTokens: number }): Promise<string[]>;
  getAdapter(): AdapterWeights;
  setAdapter(weights: AdapterWeights): void;
  /** Write base and adapter (safetensors) plus config into `dir`. */
  save(dir: string): Promise<void>;
  dispose(): void;
}
