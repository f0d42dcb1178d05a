import { parseScenario } from '../../core/scenario/load.js';
import type { Scenario } from '../../core/scenario/schema.js';
import { bigramLearningStack } from '../../actors/bigram-learning.js';
import type { LearningStack } from '../../actors/federation.js';
import type { RunEvent } from '../../core/records.js';

/**
 * A federation that runs in well under a second: a server and `clients` clients with bigram
 * models on the GPT-2 tokenizer, the built-in task, 3 rounds. `faults` is YAML for the
 * scenario's `faults:` section (and anything else appended at top level).
 */
export function bigramScenario(
  options: { clients?: number; rounds?: number; upload?: string; profiles?: string[]; extra?: string; seed?: number } = {},
): Scenario {
  const n = options.clients ?? 4;
  const clients = Array.from(
    { length: n },
    (_, i) =>
      `  - { id: c${i + 1}, model: bigram, training: { privateEpochs: 1, learningRate: 0.05, batchSize: 4 }, profile: ${options.profiles?.[i] ?? `{ msPerTrainSample: ${20 + 10 * i}, bandwidthMbps: 50, latencyMs: 20 }`} }`,
  ).join('\n');
  return parseScenario(
    `
name: faults-test
seed: ${options.seed ?? 5}
rounds: ${options.rounds ?? 3}
task: { privateSamplesPerClient: 12, publicSamples: 12, testSamples: 24, split: domain }
protocol: { topK: 8, awaitSLMLogits: { deadlineMs: 20000, quorum: 2${options.upload ? `, ${options.upload}` : ''} }, awaitLLMLogits: { deadlineMs: 30000 } }
server:
  model: bigram
  pretrain: { factFraction: 0.5 }
  training: { distillEpochs: 1, learningRate: 0.05, batchSize: 4 }
  profile: { msPerTrainSample: 5, bandwidthMbps: 200, latencyMs: 5 }
clients:
${clients}
${options.extra ?? ''}`,
    'faults-test',
  );
}

export const bigramLearning = (): LearningStack => bigramLearningStack();

export function eventsOf(events: readonly RunEvent[], kind: string, actor?: string): RunEvent[] {
  return events.filter((e) => e.kind === kind && (actor === undefined || e.actor === actor));
}

export function statesOf(events: readonly RunEvent[], actor: string, round: number): string[] {
  return events.filter((e) => e.kind === 'state' && e.actor === actor && e.round === round).map((e) => String(e.state));
}
