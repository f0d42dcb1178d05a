import { parseScenario } from '../../core/scenario/load.js';
import type { Scenario } from '../../core/scenario/schema.js';

const SLM = '{ arch: gpt2, layers: 1, heads: 2, dModel: 32, maxSeqLen: 48 }';
const LLM = '{ arch: llama, layers: 1, heads: 2, dModel: 32, maxSeqLen: 48 }';

/** Tiny models, no pretraining, few samples: a whole experiment in seconds. */
export function tinyExperimentScenario(clients: number, options: { task?: string; protocol?: string; clientPretrain?: string } = {}): Scenario {
  const list = Array.from(
    { length: clients },
    (_, i) =>
      `  - { id: c${i + 1}, model: ${SLM}, training: { privateEpochs: 1, distillEpochs: 1, learningRate: 0.01, batchSize: 8 }${options.clientPretrain ? `, pretrain: ${options.clientPretrain}` : ''} }`,
  ).join('\n');
  return parseScenario(
    `
name: tiny-experiment
seed: 4
rounds: 1
task: ${options.task ?? '{ privateSamplesPerClient: 16, publicSamples: 12, testSamples: 16, split: iid }'}
protocol: ${options.protocol ?? '{ topK: 8, awaitSLMLogits: { deadlineMs: 600000, quorum: 1 } }'}
server:
  model: ${LLM}
  training: { distillEpochs: 1, learningRate: 0.01, batchSize: 8 }
clients:
${list}
`,
    'tiny-experiment',
  );
}
