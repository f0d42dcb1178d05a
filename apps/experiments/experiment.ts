/**
 * One experiment of the paper in miniature: a setting (heterogeneous, homogeneous, one-to-one),
 * a task, FedMKT and that setting's baselines, over one or more seeds, on the same data and
 * the same base models per seed. Results: table.md, table.csv and table.json (seeds and every
 * hyperparameter), plus each federation's run folder (events, metrics, resolved scenario).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadFederationData, type FederationData } from '../../actors/federation-data.js';
import { runFederation, type LearningStack } from '../../actors/federation.js';
import type { LogitEncoding } from '../../core/protocol/codec.js';
import { ScenarioSchema, type Scenario } from '../../core/scenario/schema.js';
import type { Tokenizer } from '../../core/tokenizers/tokenizer.js';
import { centralizedLLM, fedAvg, llmZeroShot, scoreParty, slmZeroShot, standalone, type BaselineContext, type MethodScores } from './baselines.js';
import { measureCommunication } from './communication.js';
import { LOGIT_ENCODINGS, methodsFor, type MethodRun, type MethodSpec, type Setting } from './methods.js';
import { aggregate, renderCsv, renderMarkdown, type ExperimentTable } from './table.js';

export interface ScenarioOverrides {
  seed?: number;
  rounds?: number;
  task?: string;
  dataPath?: string;
  privateSamples?: number;
  publicSamples?: number;
  testSamples?: number;
  split?: 'iid' | 'domain' | 'dirichlet';
}

/** The base scenario with the experiment's overrides, validated again. */
export function experimentScenario(base: Scenario, o: ScenarioOverrides): Scenario {
  const doc = structuredClone(base) as Scenario;
  if (o.seed !== undefined) doc.seed = o.seed;
  if (o.rounds !== undefined) doc.rounds = o.rounds;
  if (o.task !== undefined && o.task !== doc.task.name) {
    doc.task.name = o.task;
    delete doc.task.path;
  }
  if (o.dataPath !== undefined) doc.task.path = o.dataPath;
  if (o.privateSamples !== undefined) doc.task.privateSamplesPerClient = o.privateSamples;
  if (o.publicSamples !== undefined) doc.task.publicSamples = o.publicSamples;
  if (o.testSamples !== undefined) doc.task.testSamples = o.testSamples;
  if (o.split !== undefined) doc.task.split = o.split;
  return ScenarioSchema.parse(doc);
}

/** Problems that make a base scenario unfit for a setting. */
export function settingProblems(setting: Setting, scenario: Scenario): string[] {
  const problems: string[] = [];
  const key = (c: Scenario['clients'][number]) => JSON.stringify([c.model, c.tokenizer, c.pretrain ?? null]);
  if (setting === 'one-to-one' && scenario.clients.length !== 1)
    problems.push(`one-to-one needs exactly one client, the scenario has ${scenario.clients.length}`);
  if (setting === 'homogeneous') {
    if (new Set(scenario.clients.map(key)).size > 1) problems.push('homogeneous needs clients with the same model, tokenizer and pretraining');
    if (!scenario.protocol.fedAvg) problems.push('homogeneous: protocol.fedAvg should be true (FedMKT with LoRA FedAvg)');
    if (scenario.clients.some((c) => !c.pretrain))
      problems.push('homogeneous: clients without `pretrain` start from different random base models, so averaging their LoRA adapters mixes unrelated models');
  }
  if (scenario.protocol.llmFrozen) problems.push('protocol.llmFrozen is set in the base scenario: FedMKT rows would be LLM2SLM');
  return problems;
}

export interface ExperimentOptions {
  setting: Setting;
  base: Scenario;
  /** Where the base scenario came from, and why (recorded in the table). */
  baseFile: string;
  baseNote?: string;
  overrides: Omit<ScenarioOverrides, 'seed'>;
  seeds: readonly number[];
  encodings?: readonly LogitEncoding[];
  /** Only these method ids (default: all of the setting). */
  methods?: readonly string[];
  learning: LearningStack;
  outDir: string;
  /** Also write `<name>.md/.csv/.json` here (e.g. docs/results). */
  publish?: { dir: string; name: string };
  /** The command line that produced this, for the table. */
  command?: string;
  /**
   * Federations: let the actors also evaluate every round (per-round curves in table.json and
   * the run's metrics.jsonl). Off by default: the table needs only the final models, and
   * per-round evaluation costs rounds + 1 evaluations per party.
   */
  curves?: boolean;
  log?: (line: string) => void;
}

export async function runExperiment(options: ExperimentOptions): Promise<ExperimentTable> {
  const { setting, learning, outDir } = options;
  const log = options.log ?? (() => {});
  const methods = methodsFor(setting, options.encodings ?? LOGIT_ENCODINGS).filter((m) => !options.methods || options.methods.includes(m.id));
  if (methods.length === 0)
    throw new Error(
      `no methods selected; ${setting} has ${methodsFor(setting)
        .map((m) => m.id)
        .join(', ')}`,
    );
  if (options.seeds.length === 0) throw new Error('no seeds');
  const first = experimentScenario(options.base, { ...options.overrides, seed: options.seeds[0]! });
  const problems = settingProblems(setting, first);
  if (problems.some((p) => p.startsWith('one-to-one') || p.startsWith('protocol.llmFrozen'))) throw new Error(problems.join('; '));
  for (const p of problems) log(`warning: ${p}`);

  mkdirSync(outDir, { recursive: true });
  const runs: MethodRun[] = [];
  const scenarios: Scenario[] = [];
  const dataSummaries: Record<number, ReturnType<typeof summariseData>> = {};
  for (const seed of options.seeds) {
    const scenario = experimentScenario(options.base, { ...options.overrides, seed });
    scenarios.push(scenario);
    const data = await loadFederationData(scenario);
    dataSummaries[seed] = summariseData(data);
    log(
      `seed ${seed}: task ${data.task} (${data.kind}), ${scenario.clients.length} clients x ${data.privateSets[0]?.length ?? 0} private, ${data.publicSet.length} public, ${data.kind === 'generation' ? data.generationTestSet.length : data.testSet.length} evaluation items`,
    );
    const ctx: BaselineContext = { scenario, data, learning };
    for (const method of methods) {
      const start = process.hrtime.bigint();
      log(`seed ${seed}: ${method.label} ...`);
      const run = await runMethod(method, ctx, join(outDir, `seed-${seed}`, method.id), options.curves ?? false);
      const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      runs.push({ method: method.id, label: method.label, seed, ...run, wallSeconds });
      log(`seed ${seed}: ${method.label}: ${describeRun(run)} (${wallSeconds.toFixed(1)} s)`);
    }
  }

  const table: ExperimentTable = {
    setting,
    task: scenarios[0]!.task.name,
    metric: dataSummaries[options.seeds[0]!]!.kind === 'generation' ? 'rougeL' : 'acc',
    seeds: [...options.seeds],
    rounds: first.rounds,
    baseFile: options.baseFile,
    ...(options.baseNote ? { baseNote: options.baseNote } : {}),
    ...(options.command ? { command: options.command } : {}),
    clients: first.clients.map((c) => c.id),
    methods: methods.map((m) => ({ id: m.id, label: m.label, kind: m.kind, ...(m.encoding ? { encoding: m.encoding } : {}) })),
    rows: aggregate(
      methods,
      runs,
      first.clients.map((c) => c.id),
    ),
    runs,
    hyperparameters: hyperparameters(first, options.seeds),
    data: dataSummaries,
    scenarios: Object.fromEntries(scenarios.map((s) => [s.seed, s])),
  };
  writeTable(outDir, 'table', table);
  if (options.publish) {
    mkdirSync(options.publish.dir, { recursive: true });
    writeTable(options.publish.dir, options.publish.name, table);
  }
  return table;
}

function writeTable(dir: string, name: string, table: ExperimentTable): void {
  writeFileSync(join(dir, `${name}.md`), renderMarkdown(table));
  writeFileSync(join(dir, `${name}.csv`), renderCsv(table));
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(table, null, 2)}\n`);
}

async function runMethod(
  method: MethodSpec,
  ctx: BaselineContext,
  runDir: string,
  curves: boolean,
): Promise<Omit<MethodRun, 'method' | 'label' | 'seed' | 'wallSeconds'>> {
  switch (method.kind) {
    case 'slm-zs':
      return slmZeroShot(ctx);
    case 'llm-zs':
      return llmZeroShot(ctx);
    case 'standalone':
      return standalone(ctx);
    case 'fedavg':
      return fedAvg(ctx);
    case 'centralized':
      return centralizedLLM(ctx);
    case 'fedmkt':
    case 'llm2slm':
      return federation(ctx, method, runDir, curves);
  }
}

async function federation(
  ctx: BaselineContext,
  method: MethodSpec,
  runDir: string,
  curves: boolean,
): Promise<Omit<MethodRun, 'method' | 'label' | 'seed' | 'wallSeconds'>> {
  const scenario = structuredClone(ctx.scenario);
  scenario.protocol.logitEncoding = method.encoding ?? 'f32';
  scenario.protocol.llmFrozen = method.kind === 'llm2slm';
  const scores: MethodScores = { llm: null, slms: {} };
  const result = await runFederation(scenario, {
    learning: ctx.learning,
    // Without curves the actors get no evaluation items (their per-round accuracy is null);
    // the final models are scored below either way, on the same items as every baseline.
    data: curves ? ctx.data : { ...ctx.data, testSet: [], generationTestSet: [] },
    outDir: runDir,
    onFinish: async (parties) => {
      for (const { id, model } of parties) {
        if (id === 'server') scores.llm = await scoreParty(model, scenario.server, ctx);
        else scores.slms![id] = await scoreParty(model, scenario.clients.find((c) => c.id === id)!, ctx);
      }
    },
  });
  const tokenizers = new Map<string, Tokenizer>();
  for (const name of new Set([scenario.server.tokenizer, ...scenario.clients.map((c) => c.tokenizer)]))
    tokenizers.set(name, await ctx.learning.tokenizer(name));
  const failures = result.failures;
  return {
    ...scores,
    communication: measureCommunication(scenario, ctx.data, result.recorder, tokenizers),
    ...(curves ? { curve: result.recorder.metrics.map((m) => ({ round: m.round, actor: m.actor, accuracy: m.accuracy })) } : {}),
    ...(Object.keys(failures).length ? { failures } : {}),
    runDir,
  };
}

function describeRun(run: Pick<MethodRun, 'llm' | 'slms' | 'failures'>): string {
  const parts: string[] = [];
  if (run.llm) parts.push(`LLM ${run.llm.value.toFixed(3)}`);
  if (run.slms) parts.push(...Object.entries(run.slms).map(([id, s]) => `${id} ${s.value.toFixed(3)}`));
  if (run.failures) parts.push(`FAILURES ${JSON.stringify(run.failures)}`);
  return parts.join(', ');
}

function summariseData(data: FederationData) {
  return {
    task: data.task,
    kind: data.kind,
    privateSamples: data.privateSets.map((s) => s.length),
    publicSamples: data.publicSet.length,
    evaluationItems: data.kind === 'generation' ? data.generationTestSet.length : data.testSet.length,
    domains: data.domains.length,
    histograms: data.histograms,
    ...(data.source ? { source: data.source } : {}),
  };
}

/** Every knob that shaped the numbers (seed-independent; the per-seed scenarios are in `scenarios`). */
function hyperparameters(s: Scenario, seeds: readonly number[]) {
  const party = (p: Scenario['server'] | Scenario['clients'][number]) => ({
    model: p.model,
    tokenizer: p.tokenizer,
    pretrain: p.pretrain ?? null,
    training: p.training,
  });
  const k = s.clients.length;
  return {
    seeds: [...seeds],
    rounds: s.rounds,
    task: s.task,
    protocol: {
      topK: s.protocol.topK,
      kdAlpha: s.protocol.kdAlpha,
      temperature: s.protocol.temperature,
      alignmentFallback: s.protocol.alignmentFallback,
      fedAvg: s.protocol.fedAvg,
    },
    server: party(s.server),
    clients: Object.fromEntries(s.clients.map((c) => [c.id, party(c)])),
    baselines: {
      standalone: `each client: ${s.rounds} rounds x privateEpochs on its own shard (its learning rate and batch size), no other data`,
      fedAvg: `each round: every client privateEpochs on its shard, then the LoRA adapters averaged (weighted by shard size); ${s.rounds} rounds`,
      centralizedLLM: `the LLM: ${s.rounds} rounds x server distillEpochs (${s.server.training.distillEpochs}) over all ${k} private shards + the public set, server learning rate ${s.server.training.learningRate}, batch ${s.server.training.batchSize}`,
      llm2slm: 'FedMKT with protocol.llmFrozen: the server skips align and distil, its LLM never changes',
      zeroShot: 'the base models (pretrained per the scenario), no training',
    },
  };
}
