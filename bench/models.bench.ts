/**
 * Transformer training throughput on the active TensorFlow.js backend.
 *
 * - models.train: training tokens/s and achieved GFLOP/s (products actually run, see
 *   core/models/flops.ts) of LoRA fine-tuning for a tiny SLM and a larger LLM config, and of
 *   full-weight training for the LLM config; GFLOP/s figures carry as baseline a plain
 *   tf.matMul's GFLOP/s measured in the same run on the same backend (goal: ratio >= 0.3).
 * - models.scenario: a FedMKT-shaped workload, 1 server (llama 2L/96) and 3 clients
 *   (gpt2 2L/64) over the GPT-2 tokenizer, 128 private + 64 public samples each, seq <= 48,
 *   3 rounds of (train 1 epoch, score, distil 1 epoch); goal well under 180 s on 2 cores.
 *   Once in-process, once on a worker pool (one worker per core, clients concurrent), the
 *   in-process time being the pool figure's baseline.
 */
import * as tf from '@tensorflow/tfjs';
import { identityTeacher } from '../core/alignment/aligned-teacher.js';
import { supervisedLoss } from '../core/learning/loss.js';
import { initBackend } from '../core/models/backend.js';
import { resolveConfig, resolveModelSpec } from '../core/models/config.js';
import { createModel } from '../core/models/factory.js';
import { stepFlops } from '../core/models/flops.js';
import type { BackendName } from '../core/models/backend.js';
import type { LanguageModel, TextSample } from '../core/models/model.js';
import { encodeSample } from '../core/models/sample-encoding.js';
import { ModelVocab } from '../core/models/vocab.js';
import { ModelWorkerPool } from '../core/models/worker-pool.js';
import { TransformerNetwork } from '../core/models/network.js';
import type { ModelSpec } from '../core/models/spec.js';
import { optimise, type TrainedWeights } from '../core/models/training.js';
import { Random } from '../core/random.js';
import { loadTokenizer } from '../core/tokenizers/registry.js';
import type { Benchmark, Figure } from './harness.js';

/** GFLOP/s of a plain [n, n] x [n, n] tf.matMul (median of several runs). */
function matMulGflops(n: number): number {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const run = (): void => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  run();
  const rates: number[] = [];
  for (let rep = 0; rep < 7; rep++) {
    const start = performance.now();
    for (let i = 0; i < 4; i++) run();
    rates.push((4 * 2 * n ** 3) / ((performance.now() - start) / 1000) / 1e9);
  }
  tf.dispose([a, b]);
  return rates.sort((x, y) => x - y)[3] as number;
}

interface TrainCase {
  label: string;
  spec: ModelSpec;
  trained: TrainedWeights;
  sequences: number;
  batchSize: number;
}

const SEQ_LEN = 48;
const VOCAB = 512;

async function trainFigures(c: TrainCase, backend: string, matmul: number): Promise<Figure[]> {
  const config = resolveConfig({ ...c.spec, maxSeqLen: SEQ_LEN }, VOCAB);
  const network = TransformerNetwork.create(config, 1);
  const rng = new Random(2);
  const rows = Array.from({ length: c.sequences }, () => ({
    ids: Int32Array.from({ length: SEQ_LEN }, () => rng.int(VOCAB)),
    answerStart: SEQ_LEN - 8,
  }));
  const options = { epochs: 1, learningRate: 1e-3, batchSize: c.batchSize };
  const loss = (logits: tf.Tensor2D, batch: { targets: Int32Array; ceMask: Float32Array }): tf.Scalar =>
    supervisedLoss(logits, batch.targets, batch.ceMask);
  await optimise(network, rows.slice(0, c.batchSize * 2), options, c.trained, 1, loss); // warm-up
  const start = performance.now();
  const cpu = process.cpuUsage();
  const stats = await optimise(network, rows, options, c.trained, 1, loss);
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = cpuSecondsSince(cpu);
  network.dispose();
  const gflops = (stats.steps * stepFlops(config, c.batchSize * SEQ_LEN, SEQ_LEN, c.trained)) / seconds / 1e9;
  const detail = { backend, wallSeconds: seconds, cpuSeconds, arch: config.arch, layers: config.layers, dModel: config.dModel, vocab: VOCAB, seqLen: SEQ_LEN, batch: c.batchSize, trained: c.trained };
  return [
    { name: `models.train.${c.label}.tokens_per_s`, value: stats.tokens / seconds, unit: 'tokens/s', ...detail },
    {
      name: `models.train.${c.label}.gflops`,
      value: gflops,
      unit: 'GFLOP/s',
      baseline: matmul,
      ratio: gflops / matmul,
      goal: 'ratio >= 0.3',
      baselineIs: 'plain tf.matMul 512x512x512, same run and backend',
      ...detail,
    },
  ];
}

/** Pseudo-words from syllables: a few hundred distinct GPT-2 tokens, like a small task corpus. */
function syntheticCorpus(count: number, rng: Random): TextSample[] {
  // 40 syllables give a compact GPT-2 vocabulary of about 500 ids over the scenario's 448 samples
  const syllables = [
    'ka', 'lo', 'mi', 'ren', 'tas', 'vo', 'pel', 'dri', 'sun', 'gor', 'hal', 'bex', 'qui', 'nor', 'fet', 'zam', 'ul', 'wy', 'cho', 'tri',
    'mar', 'ste', 'pin', 'olk', 'bra', 'dun', 've', 'sha', 'ix', 'tho', 'gle', 'rup', 'ant', 'yel', 'cor', 'fi', 'mox', 'lan', 'pre', 'ju',
  ];
  const word = (): string => (syllables[rng.int(syllables.length)] as string) + (syllables[rng.int(syllables.length)] as string);
  const words = (n: number): string => Array.from({ length: n }, word).join(' ');
  return Array.from({ length: count }, () => ({
    prompt: `Question: ${words(6 + rng.int(8))}?\nAnswer:`,
    answer: ` ${words(1 + rng.int(3))}`,
  }));
}

/** CPU seconds (all threads of this process) since `start`: robust to other load, unlike wall time. */
function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

interface ScenarioModels {
  server: LanguageModel;
  clients: LanguageModel[];
  /** Run client work concurrently (worker pool) or one after another (in-process). */
  concurrent: boolean;
}

/** 3 FedMKT rounds over the given models; returns trained tokens. */
async function runRounds(models: ScenarioModels, publicSet: TextSample[], privates: TextSample[][]): Promise<number> {
  const train = { epochs: 1, learningRate: 3e-4, batchSize: 4 };
  const distill = { ...train, kdAlpha: 0.9, temperature: 1 };
  const topK = 32;
  const eachClient = async <T>(work: (client: LanguageModel, i: number) => Promise<T>): Promise<T[]> => {
    if (models.concurrent) return Promise.all(models.clients.map(work));
    const out: T[] = [];
    for (const [i, client] of models.clients.entries()) out.push(await work(client, i));
    return out;
  };
  let tokens = 0;
  for (let round = 0; round < 3; round++) {
    const slmLogits = await eachClient(async (client, i) => {
      const stats = await client.trainEpochs(privates[i] as TextSample[], train);
      return { stats, logits: await client.scorePublic(publicSet, topK) };
    });
    tokens += slmLogits.reduce((n, r) => n + r.stats.tokens, 0);
    // same tokenizer everywhere: the aligned teacher is the sender's own top-K
    const total = (ce: Float32Array): number => ce.reduce((s, v) => s + v, 0);
    const best = slmLogits.map((r) => r.logits).reduce((a, b) => (total(a.ce) <= total(b.ce) ? a : b));
    tokens += (await models.server.distillEpochs(publicSet, identityTeacher(best), distill)).tokens;
    const llmLogits = await models.server.scorePublic(publicSet, topK);
    const distilled = await eachClient((client) => client.distillEpochs(publicSet, identityTeacher(llmLogits), distill));
    tokens += distilled.reduce((n, s) => n + s.tokens, 0);
  }
  return tokens;
}

async function scenarioFigures(backend: string): Promise<Figure[]> {
  const tokenizer = await loadTokenizer('gpt2');
  const rng = new Random(11);
  const publicSet = syntheticCorpus(64, rng);
  const privates = [0, 1, 2].map(() => syntheticCorpus(128, rng));
  const corpus = [...publicSet, ...privates.flat()];
  const serverSpec = { ...resolveModelSpec('llama-tiny'), maxSeqLen: SEQ_LEN };
  const clientSpec = { ...resolveModelSpec('gpt2-tiny'), maxSeqLen: SEQ_LEN };
  const vocab = ModelVocab.build(tokenizer, corpus);
  const lengths = publicSet.map((s) => encodeSample(tokenizer, s, SEQ_LEN).ids.length);
  const detail = { backend, vocab: vocab.size, maxPublicLength: Math.max(...lengths), goal: 'well under 180 s on 2 cores (wasm)' };

  const local: ScenarioModels = {
    server: createModel({ spec: serverSpec, tokenizer, vocab, seed: 1 }),
    clients: [0, 1, 2].map((i) => createModel({ spec: clientSpec, tokenizer, vocab, seed: 10 + i })),
    concurrent: false,
  };
  let start = performance.now();
  let cpu = process.cpuUsage();
  const tokens = await runRounds(local, publicSet, privates);
  const inProcess = (performance.now() - start) / 1000;
  const inProcessCpu = cpuSecondsSince(cpu);
  [local.server, ...local.clients].forEach((m) => m.dispose());

  const pool = new ModelWorkerPool({ backend: backend as BackendName });
  const source = { registry: 'gpt2' };
  const vocabIds = vocab.tokenizerIds();
  const remote: ScenarioModels = {
    server: await pool.createModel({ spec: serverSpec, tokenizer: source, vocabIds, seed: 1 }),
    clients: await Promise.all([0, 1, 2].map((i) => pool.createModel({ spec: clientSpec, tokenizer: source, vocabIds, seed: 10 + i }))),
    concurrent: true,
  };
  start = performance.now();
  cpu = process.cpuUsage();
  const remoteTokens = await runRounds(remote, publicSet, privates);
  const workersCpu = cpuSecondsSince(cpu);
  if (remoteTokens !== tokens) throw new Error(`scenario: worker pool trained ${remoteTokens} tokens, in-process ${tokens}`);
  const workers = (performance.now() - start) / 1000;
  await pool.close();
  return [
    { name: 'models.scenario.3_rounds.in_process', value: inProcess, unit: 's', cpuSeconds: inProcessCpu, trainedTokens: tokens, tokensPerSecond: tokens / inProcess, ...detail },
    {
      name: 'models.scenario.3_rounds.worker_pool',
      value: workers,
      unit: 's',
      baseline: inProcess,
      ratio: workers / inProcess,
      workers: pool.size,
      cpuSeconds: workersCpu,
      trainedTokens: tokens,
      tokensPerSecond: tokens / workers,
      ...detail,
    },
  ];
}

const benchmarks: Benchmark[] = [
  {
    name: 'models.train',
    async run() {
      const backend = await initBackend();
      const matmul = matMulGflops(512);
      const figures: Figure[] = [
        { name: 'models.matmul.gflops', value: matmul, unit: 'GFLOP/s', backend, shape: '512x512x512' },
      ];
      const cases: TrainCase[] = [
        { label: 'gpt2-tiny.lora', spec: resolveModelSpec('gpt2-tiny'), trained: 'adapters', sequences: 64, batchSize: 8 },
        { label: 'llama-small.lora', spec: resolveModelSpec('llama-small'), trained: 'adapters', sequences: 32, batchSize: 8 },
        { label: 'llama-small.full', spec: resolveModelSpec('llama-small'), trained: 'base', sequences: 32, batchSize: 8 },
      ];
      for (const c of cases) figures.push(...(await trainFigures(c, backend, matmul)));
      return figures;
    },
  },
  {
    name: 'models.scenario',
    async run() {
      return scenarioFigures(await initBackend());
    },
  },
];

export default benchmarks;
