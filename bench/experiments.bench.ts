/**
 * Logit encodings as the experiments see them: the bytes a FedMKT round really puts on the
 * wire with each `protocol.logitEncoding` against float32 (measured from a federation's send
 * events, next to the paper's N·L·K estimate), and encode/decode throughput on logits a real
 * model produced (peaked, with real ids), not random ones.
 * Synthetic payloads up to the paper's 223 x 512 x K128 are codec.bench.ts's `codec-encodings`;
 * this file does not repeat them.
 */
import { loadFederationData } from '../actors/federation-data.js';
import { defaultLearningStack } from '../actors/default-learning.js';
import { runFederation } from '../actors/federation.js';
import { datasetsAvailable } from '../core/data/datasets-root.js';
import { measureCommunication } from '../apps/experiments/communication.js';
import { experimentScenario } from '../apps/experiments/experiment.js';
import { LOGIT_ENCODINGS } from '../apps/experiments/methods.js';
import { decodeMessage, encodeMessage, type LogitEncoding } from '../core/protocol/codec.js';
import { PROTOCOL_VERSION, type Envelope, type PublicLogits } from '../core/protocol/messages.js';
import { parseScenario } from '../core/scenario/load.js';
import type { Scenario } from '../core/scenario/schema.js';
import type { Tokenizer } from '../core/tokenizers/tokenizer.js';
import { timeIt, type Benchmark, type Figure } from './harness.js';

const SLM = '{ arch: gpt2, layers: 2, heads: 2, dModel: 64, maxSeqLen: 64 }';

function scenario(topK: number): Scenario {
  return parseScenario(
    `
name: bench-encodings
seed: 3
rounds: 1
task: { privateSamplesPerClient: 32, publicSamples: 64, testSamples: 32, split: iid }
protocol: { topK: ${topK}, awaitSLMLogits: { deadlineMs: 600000, quorum: 3 } }
server:
  model: { arch: llama, layers: 2, heads: 4, dModel: 96, maxSeqLen: 64 }
  training: { distillEpochs: 1 }
clients:
  - { id: c1, model: ${SLM}, training: { privateEpochs: 1 } }
  - { id: c2, model: ${SLM}, training: { privateEpochs: 1 } }
  - { id: c3, model: ${SLM}, training: { privateEpochs: 1 } }
`,
    'bench-encodings',
  );
}

function payloadBytes(l: PublicLogits): number {
  return [l.lengths, l.tokenIds, l.topKIds, l.topKLogits, l.ce].reduce((n, a) => n + a.byteLength, 0);
}

const benchmarks: Benchmark[] = [
  {
    name: 'experiments-bytes-per-round',
    async run() {
      const learning = await defaultLearningStack();
      const figures: Figure[] = [];
      for (const topK of [16, 128]) {
        const base = scenario(topK);
        const data = await loadFederationData(base);
        const tokenizers = new Map<string, Tokenizer>([['gpt2', await learning.tokenizer('gpt2')]]);
        let f32: { up: number; down: number } | null = null;
        for (const encoding of LOGIT_ENCODINGS) {
          const s = structuredClone(base);
          s.protocol.logitEncoding = encoding;
          const result = await runFederation(s, { learning, data });
          const c = measureCommunication(s, data, result.recorder, tokenizers);
          // One round: every client's upload, and the broadcast each client receives.
          const up = c.slmLogitsBytes * s.clients.length;
          const down = c.llmLogitsBytes;
          f32 ??= { up, down };
          const label = `N${c.slmFormula.n}xL${c.slmFormula.meanLength.toFixed(1)}xK${topK}`;
          figures.push(
            {
              name: `experiments.${encoding}.bytes-per-round.up.${label}`,
              value: up,
              unit: 'bytes (3 clients)',
              baseline: f32.up,
              ratio: up / f32.up,
              paperF32Bytes: c.slmFormula.f32Bytes * s.clients.length,
            },
            {
              name: `experiments.${encoding}.bytes-per-round.down.${label}`,
              value: down,
              unit: 'bytes (one broadcast)',
              baseline: f32.down,
              ratio: down / f32.down,
              paperF32Bytes: c.llmFormula.f32Bytes,
            },
          );
        }
      }
      return figures;
    },
  },
  {
    name: 'experiments-logit-codec',
    async run() {
      const learning = await defaultLearningStack();
      const figures: Figure[] = [];
      const tasks = datasetsAvailable() ? ['builtin', 'arc_easy'] : ['builtin'];
      for (const task of tasks) {
        const s = experimentScenario(scenario(128), { task });
        const data = await loadFederationData(s);
        const tokenizer = await learning.tokenizer('gpt2');
        const model = await learning.createModel(s.clients[0]!, tokenizer, data, 1, s.seed);
        await model.trainEpochs(data.privateSets[0]!, { epochs: 1, learningRate: 3e-3, batchSize: 8 });
        const logits = await model.scorePublic(data.publicSet, 128);
        model.dispose();
        const envelope: Envelope = { v: PROTOCOL_VERSION, run: 'bench', round: 1, sender: 'c1', id: 'c1:1', body: { type: 'slm-logits', logits } };
        const bytes = payloadBytes(logits);
        const context = { knownSenders: new Set(['c1']), vocabSize: () => tokenizer.vocabSize };
        const label = `${task}.N${data.publicSet.length}xL${(logits.tokenIds.length / data.publicSet.length).toFixed(1)}xK128`;
        const repeats = 20;
        let f32Size = 0;
        for (const encoding of LOGIT_ENCODINGS as LogitEncoding[]) {
          const message = encodeMessage(envelope, { logits: encoding });
          if (encoding === 'f32') f32Size = message.length;
          const encode = await timeIt(() => encodeMessage(envelope, { logits: encoding }), repeats);
          const decode = await timeIt(() => decodeMessage(message, context), repeats);
          figures.push(
            {
              name: `experiments.${encoding}.message-bytes.${label}`,
              value: message.length,
              unit: 'bytes',
              baseline: f32Size,
              ratio: message.length / f32Size,
            },
            { name: `experiments.${encoding}.encode.${label}`, value: bytes / encode / 1e6, unit: 'MB/s (f32 payload)' },
            { name: `experiments.${encoding}.decode.${label}`, value: bytes / decode / 1e6, unit: 'MB/s (f32 payload)' },
          );
        }
      }
      return figures;
    },
  },
];

export default benchmarks;
