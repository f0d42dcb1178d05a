import { parseScenario } from '../../core/scenario/load.js';
import type { Scenario } from '../../core/scenario/schema.js';

/** A federation small enough to run in seconds: 3 clients, tiny transformers, no pretraining. */
export function tinyScenario(overrides = ''): Scenario {
  return parseScenario(
    `
name: tiny
seed: 3
rounds: 2
task: { privateSamplesPerClient: 24, publicSamples: 16, testSamples: 24, split: domain }
protocol: { topK: 8, awaitSLMLogits: { deadlineMs: 600000, quorum: 2 } }
server:
  model: { arch: llama, layers: 1, heads: 2, dModel: 32, maxSeqLen: 48 }
  training: { distillEpochs: 1, learningRate: 0.01, batchSize: 8 }
clients:
  - { id: c1, model: { arch: gpt2, layers: 1, heads: 2, dModel: 32, maxSeqLen: 48 }, training: { privateEpochs: 1, learningRate: 0.01 } }
  - { id: c2, model: { arch: gpt2, layers: 1, heads: 2, dModel: 32, maxSeqLen: 48 }, training: { privateEpochs: 1, learningRate: 0.01 } }
  - { id: c3, model: { arch: gpt2, layers: 1, heads: 2, dModel: 32, maxSeqLen: 48 }, profile: { msPerTrainSample: 500 } }
${overrides}`,
    'tiny',
  );
}
