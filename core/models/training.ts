/**
 * The optimisation loop shared by LoRA fine-tuning, distillation and full-weight pretraining:
 * seeded shuffling, padded batches, AdamW on the chosen weights.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../random.js';
import type { TrainOptions, TrainStats } from './model.js';
import { AdamW } from './adamw.js';
import { batchIndices, padBatch, type ModelRow, type PaddedBatch } from './batching.js';
import { stepFlops, type TrainedWeights } from './flops.js';
import { withBackpropState } from '../tensor/tape.js';
import type { TransformerNetwork } from './network.js';

/** The scalar loss of a batch, given the network's logits [batch * seqLen, vocab]. */
export type BatchLoss = (logits: tf.Tensor2D, batch: PaddedBatch) => tf.Scalar;

export function checkTrainOptions(options: TrainOptions, where: string): void {
  if (!Number.isInteger(options.epochs) || options.epochs < 1) {
    throw new Error(`${where}: epochs must be a positive integer, got ${options.epochs}`);
  }
  if (!(options.learningRate > 0)) throw new Error(`${where}: learningRate must be positive, got ${options.learningRate}`);
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new Error(`${where}: batchSize must be a positive integer, got ${options.batchSize}`);
  }
}

/** Let timers and other actors run between optimiser steps. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function optimise(
  network: TransformerNetwork,
  rows: readonly ModelRow[],
  options: TrainOptions,
  trained: TrainedWeights,
  seed: number,
  lossOf: BatchLoss,
): Promise<TrainStats> {
  const variables = trained === 'adapters' ? network.adapterVariables() : network.baseVariables();
  if (variables.length === 0) throw new Error(`optimise: the network has no ${trained} to train`);
  const decayed = trained === 'adapters' ? variables : variables.filter((v) => network.isDecayed(v));
  const optimizer = new AdamW({ learningRate: options.learningRate }, decayed);
  const shuffle = Random.stream(seed, 'shuffle');
  const dropout = Random.stream(seed, 'dropout');
  const pass = { trainBase: trained === 'base', trainAdapters: trained === 'adapters', dropout: trained === 'adapters' };
  let tokens = 0;
  let steps = 0;
  let flops = 0;
  let lastEpochLoss = 0;
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      let lossSum = 0;
      const batches = batchIndices(rows.length, options.batchSize, shuffle);
      for (const indices of batches) {
        const batch = padBatch(rows, indices);
        const dropoutSeed = Math.floor(dropout.next() * 2 ** 32);
        const { value, grads } = withBackpropState(() =>
          tf.variableGrads(() => lossOf(network.logits(batch.ids, batch, { ...pass, seed: dropoutSeed }), batch), variables),
        );
        const pairs = variables.flatMap((v) => {
          const g = grads[v.name];
          return g ? [[v, g] as const] : [];
        });
        optimizer.apply(pairs);
        lossSum += value.dataSync()[0] as number;
        value.dispose();
        tf.dispose(Object.values(grads));
        tokens += batch.lengths.reduce((a, b) => a + b, 0);
        flops += stepFlops(network.config, batch.batch * batch.seqLen, batch.seqLen, trained, batch.lengths);
        steps++;
        await yieldToEventLoop();
      }
      lastEpochLoss = batches.length > 0 ? lossSum / batches.length : 0;
      options.onEpoch?.(epoch + 1, lastEpochLoss);
    }
  } finally {
    optimizer.dispose();
  }
  return { loss: lastEpochLoss, tokens, steps, flops };
}
