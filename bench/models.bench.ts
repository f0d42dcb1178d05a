/**
 * Transformer training throughput on the active TensorFlow.js backend.
 *
 * - models.train: training tokens/s and achieved GFLOP/s (products actually run, see
 *   core/models/flops.ts, padding included) of the shipped configurations: the SLM and LLM of
 *   scenarios/quickstart.yaml (also those of homogeneous/heterogeneous.yaml), each with the
 *   scenario's batch size and learning rate, the built-in task's real samples (private set for
 *   step 1, public set for the distillation steps 4 and 8, with the other model's top-K as
 *   teacher) and the compact vocabulary a run builds (task texts plus pretraining corpus).
 *   Also LoRA and full-weight training of the larger llama-small on synthetic 48-token rows.
 *   Shipped cases are timed in steady state: 2 warm-up epochs, then the median of 3 timed runs
 *   of 2 epochs. Every GFLOP/s figure carries as baseline a plain tf.matMul's GFLOP/s measured
 *   in the same run on the same backend, before and after the cases, the higher figure (goal:
 *   ratio >= 0.3).
 * - models.scenario: a FedMKT-shaped workload, 1 server (llama 2L/96) and 3 clients
 *   (gpt2 2L/64) over the GPT-2 tokenizer, 128 private + 64 public samples each, seq <= 48,
 *   3 rounds of (train 1 epoch, score, distil 1 epoch); goal well under 180 s on 2 cores.
 *   Once in-process, once on a worker pool (one worker per core, clients concurrent), the
 *   in-process time being the pool figure's baseline.
 */
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { federationData } from '../actors/federation-data.js';
import { identityTeacher } from '../core/alignment/aligned-teacher.js';
import { builtinPretrainCorpus } from '../core/data/builtin-task.js';
import { supervisedLoss } from '../core/learning/loss.js';
import { initBackend } from '../core/models/backend.js';
import { resolveConfig, resolveModelSpec } from '../core/models/config.js';
import { createModel } from '../core/models/factory.js';
import { stepFlops } from '../core/models/flops.js';
import type { BackendName } from '../core/models/backend.js';
import type { LanguageModel, TextSample, TrainStats } from '../core/models/model.js';
import { encodeSample } from '../core/models/sample-encoding.js';
import { ModelVocab } from '../core/models/vocab.js';
import { ModelWorkerPool } from '../core/models/worker-pool.js';
import { TransformerNetwork } from '../core/models/network.js';
import type { ModelSpec } from '../core/models/spec.js';
import type { TrainedWeights } from '../core/models/flops.js';
import { optimise } from '../core/models/training.js';
import { Random } from '../core/random.js';
import { loadScenario } from '../core/scenario/load.js';
import type { ClientConfig, ServerConfig } from '../core/scenario/schema.js';
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

async function trainFigures(c: TrainCase, backend: string): Promise<(matmul: number) => Figure[]> {
  const config = resolveConfig({ ...c.spec, maxSeqLen: SEQ_LEN }, VOCAB);
  const network = TransformerNetwork.create(config, 1);
  const rng = new Random(2);
  const rows = Array.from({ length: c.sequences }, () => ({
    ids: Int32Array.from({ length: SEQ_LEN }, () => rng.int(VOCAB)),
    answerStart: SEQ_LEN - 8,
  }));
  const options = { epochs: 1, learningRate: 1e-3, batchSize: c.batchSize };
  const loss = (logits: tf.Tensor2D, batch: { targets: Int32Array; ceMask: Float32Array }): tf.Scalar => supervisedLoss(logits, batch.targets, batch.ceMask);
  await optimise(network, rows.slice(0, c.batchSize * 2), options, c.trained, 1, loss); // warm-up
  const start = performance.now();
  const cpu = process.cpuUsage();
  const stats = await optimise(network, rows, options, c.trained, 1, loss);
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = cpuSecondsSince(cpu);
  network.dispose();
  const gflops = (stats.steps * stepFlops(config, c.batchSize * SEQ_LEN, SEQ_LEN, c.trained)) / seconds / 1e9;
  const detail = {
    backend,
    wallSeconds: seconds,
    cpuSeconds,
    arch: config.arch,
    layers: config.layers,
    dModel: config.dModel,
    vocab: VOCAB,
    seqLen: SEQ_LEN,
    batch: c.batchSize,
    trained: c.trained,
  };
  return throughputFigures(c.label, stats.tokens / seconds, gflops, detail);
}

/** tokens/s, and GFLOP/s against the plain matMul baseline of the same run. */
function throughputFigures(label: string, tokensPerSecond: number, gflops: number, detail: Record<string, unknown>): (matmul: number) => Figure[] {
  return (matmul) => [
    { name: `models.train.${label}.tokens_per_s`, value: tokensPerSecond, unit: 'tokens/s', ...detail },
    {
      name: `models.train.${label}.gflops`,
      value: gflops,
      unit: 'GFLOP/s',
      baseline: matmul,
      ratio: gflops / matmul,
      goal: 'ratio >= 0.3',
      baselineIs: BASELINE_IS,
      ...detail,
    },
  ];
}

const BASELINE_IS = 'plain tf.matMul 512x512x512, same run and backend (the higher of its figures before and after the training cases)';

const QUICKSTART = fileURLToPath(new URL('../scenarios/quickstart.yaml', import.meta.url));

/** Steady-state timing: every training call of both models first runs WARMUP_EPOCHS untimed
 * (the JIT takes some 80 steps to settle, a federation runs dozens of epochs per process), then
 * each is timed as the median of TIMED_RUNS runs of TIMED_EPOCHS epochs. */
const WARMUP_EPOCHS = 4;
const TIMED_EPOCHS = 3;
const TIMED_RUNS = 5;

function trainFigure(label: string, stats: TrainStats, seconds: number, cpuSeconds: number, detail: Record<string, unknown>): (matmul: number) => Figure[] {
  const gflops = (stats.flops ?? Number.NaN) / seconds / 1e9;
  const timing = `median of ${TIMED_RUNS} runs of ${TIMED_EPOCHS} epochs, after ${WARMUP_EPOCHS} warm-up epochs of every case`;
  const all = { wallSeconds: seconds, cpuSeconds, steps: stats.steps, tokens: stats.tokens, timing, ...detail };
  return throughputFigures(label, stats.tokens / seconds, gflops, all);
}

async function timed(run: (epochs: number) => Promise<TrainStats>): Promise<{ stats: TrainStats; seconds: number; cpuSeconds: number }> {
  const runs: { stats: TrainStats; seconds: number; cpuSeconds: number }[] = [];
  for (let i = 0; i < TIMED_RUNS; i++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const stats = await run(TIMED_EPOCHS);
    runs.push({ stats, seconds: (performance.now() - start) / 1000, cpuSeconds: cpuSecondsSince(cpu) });
  }
  // median by throughput (each run's batches differ in padding, so compare FLOP rates)
  runs.sort((a, b) => (a.stats.flops ?? 0) / a.seconds - (b.stats.flops ?? 0) / b.seconds);
  return runs[Math.floor(TIMED_RUNS / 2)] as (typeof runs)[number];
}

/**
 * The shipped SLM (client c1) and LLM (server) of quickstart.yaml on the built-in task: step 1
 * (private CE training) and the distillation steps 4 and 8 (kdAlpha CE + KD against the other
 * model's top-K over the public set), at the scenario's batch sizes and learning rates.
 */
async function shippedFigures(backend: string): Promise<Array<(matmul: number) => Figure[]>> {
  const scenario = loadScenario(QUICKSTART);
  const data = federationData(scenario);
  const client = scenario.clients[0] as ClientConfig;
  const server: ServerConfig = scenario.server;
  if (client.tokenizer !== server.tokenizer) throw new Error('models.train: the shipped SLM and LLM are expected to share a tokenizer');
  const tokenizer = await loadTokenizer(client.tokenizer);
  // As actors/base-models.ts builds it: the run's texts plus the party's pretraining corpus.
  const vocabFor = (party: ClientConfig | ServerConfig): ModelVocab => {
    const texts = party.pretrain?.corpus === 'builtin' ? builtinPretrainCorpus(scenario.seed, { factFraction: party.pretrain.factFraction }).texts : [];
    return ModelVocab.build(tokenizer, [...data.corpus, ...texts]);
  };
  const privateSet = data.privateSets[0] as TextSample[];
  const { publicSet } = data;
  const { topK, kdAlpha, temperature } = scenario.protocol;
  const parties = [
    { label: 'slm', party: client as ClientConfig | ServerConfig },
    { label: 'llm', party: server as ClientConfig | ServerConfig },
  ];
  const models = parties.map(({ party }, i) => createModel({ spec: resolveModelSpec(party.model), tokenizer, vocab: vocabFor(party), seed: 1 + i }));
  const lengths = (set: readonly TextSample[], maxSeqLen: number): number[] => set.map((s) => encodeSample(tokenizer, s, maxSeqLen).ids.length);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  // each model distils from the other's top-K (same tokenizer: alignment is the identity)
  const scores = await Promise.all(models.map((m) => m.scorePublic(publicSet, topK)));
  const cases = parties.map(({ label, party }, i) => {
    const model = models[i] as (typeof models)[number];
    const { learningRate, batchSize } = party.training;
    const teacher = identityTeacher(scores[1 - i] as (typeof scores)[number]);
    return {
      label,
      model,
      batchSize,
      train: (epochs: number) => model.trainEpochs(privateSet, { epochs, learningRate, batchSize }),
      distill: (epochs: number) => model.distillEpochs(publicSet, teacher, { epochs, learningRate, batchSize, kdAlpha, temperature }),
    };
  });
  for (const c of cases) {
    await c.train(WARMUP_EPOCHS);
    await c.distill(WARMUP_EPOCHS);
  }
  const figures: Array<(matmul: number) => Figure[]> = [];
  for (const { label, model, batchSize, train, distill } of cases) {
    const config = model.config;
    const common = {
      backend,
      arch: config.arch,
      layers: config.layers,
      heads: config.heads,
      dModel: config.dModel,
      lora: `r${config.lora.rank} ${config.lora.targets.join(',')}`,
      vocab: config.vocabSize,
      batch: batchSize,
    };
    const t = await timed(train);
    figures.push(
      trainFigure(`${label}.lora`, t.stats, t.seconds, t.cpuSeconds, {
        ...common,
        step: 'private CE (step 1)',
        samples: privateSet.length,
        meanSeqLen: mean(lengths(privateSet, config.maxSeqLen)),
      }),
    );
    const d = await timed(distill);
    figures.push(
      trainFigure(`${label}.lora.distill`, d.stats, d.seconds, d.cpuSeconds, {
        ...common,
        step: 'distillation (steps 4, 8)',
        samples: publicSet.length,
        meanSeqLen: mean(lengths(publicSet, config.maxSeqLen)),
        topK,
      }),
    );
  }
  models.forEach((m) => m.dispose());
  return figures;
}

/** Pseudo-words from syllables: a few hundred distinct GPT-2 tokens, like a small task corpus. */
function syntheticCorpus(count: number, rng: Random): TextSample[] {
  // 40 syllables give a compact GPT-2 vocabulary of about 500 ids over the scenario's 448 samples
  const syllables = [
    'ka',
    'lo',
    'mi',
    'ren',
    'tas',
    'vo',
    'pel',
    'dri',
    'sun',
    'gor',
    'hal',
    'bex',
    'qui',
    'nor',
    'fet',
    'zam',
    'ul',
    'wy',
    'cho',
    'tri',
    'mar',
    'ste',
    'pin',
    'olk',
    'bra',
    'dun',
    've',
    'sha',
    'ix',
    'tho',
    'gle',
    'rup',
    'ant',
    'yel',
    'cor',
    'fi',
    'mox',
    'lan',
    'pre',
    'ju',
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
    {
      name: 'models.scenario.3_rounds.in_process',
      value: inProcess,
      unit: 's',
      cpuSeconds: inProcessCpu,
      trainedTokens: tokens,
      tokensPerSecond: tokens / inProcess,
      ...detail,
    },
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
      // measured before and after the training cases; the higher figure is the baseline, so
      // that load from elsewhere during one measurement cannot inflate the ratios
      const before = matMulGflops(512);
      const pending = await shippedFigures(backend);
      const cases: TrainCase[] = [
        { label: 'llama-small.lora', spec: resolveModelSpec('llama-small'), trained: 'adapters', sequences: 32, batchSize: 8 },
        { label: 'llama-small.full', spec: resolveModelSpec('llama-small'), trained: 'base', sequences: 32, batchSize: 8 },
      ];
      for (const c of cases) pending.push(await trainFigures(c, backend));
      const after = matMulGflops(512);
      const matmul = Math.max(before, after);
      const figures: Figure[] = [{ name: 'models.matmul.gflops', value: matmul, unit: 'GFLOP/s', backend, shape: '512x512x512', before, after }];
      for (const make of pending) figures.push(...make(matmul));
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
