import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import type { LearningStack } from '../../actors/federation.js';
import { baseScenarioFile, registerExperimentCommand } from '../../cli/commands/experiment.js';
import { datasetsAvailable } from '../../core/data/datasets-root.js';
import { experimentScenario, runExperiment, settingProblems } from '../../apps/experiments/experiment.js';
import type { ExperimentTable, MethodRow } from '../../apps/experiments/table.js';
import { tinyExperimentScenario } from './tiny.js';

const haveData = datasetsAvailable();
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `fedmkt-exp-${name}-`));
const row = (t: ExperimentTable, id: string): MethodRow => {
  const r = t.rows.find((x) => x.method === id);
  if (!r) throw new Error(`no row ${id}`);
  return r;
};

describe('experiments: FedMKT and the baselines on the same data and base models', () => {
  let learning: LearningStack;
  beforeAll(async () => {
    learning = await defaultLearningStack();
  });

  it('one-to-one: every row, frozen LLM in LLM2SLM, q8 logits on the wire, files written', { timeout: 120_000 }, async () => {
    const outDir = tmp('o2o');
    const publish = tmp('publish');
    const table = await runExperiment({
      setting: 'one-to-one',
      base: tinyExperimentScenario(1),
      baseFile: 'test/experiments/tiny.ts',
      overrides: { rounds: 2 },
      seeds: [4],
      encodings: ['f32', 'q8'],
      learning,
      outDir,
      publish: { dir: publish, name: 'one-to-one-builtin' },
      curves: true,
    });
    expect(table.rows.map((r) => r.method)).toEqual(['slm-zs', 'llm-zs', 'standalone', 'llm2slm', 'centralized-llm', 'fedmkt-f32', 'fedmkt-q8']);
    for (const f of ['table.md', 'table.csv', 'table.json']) expect(existsSync(join(outDir, f))).toBe(true);
    for (const f of ['one-to-one-builtin.md', 'one-to-one-builtin.csv', 'one-to-one-builtin.json']) expect(existsSync(join(publish, f))).toBe(true);
    expect(existsSync(join(outDir, 'seed-4', 'fedmkt-f32', 'metrics.jsonl'))).toBe(true);
    const json = JSON.parse(readFileSync(join(outDir, 'table.json'), 'utf8')) as ExperimentTable;
    expect(json.seeds).toEqual([4]);
    expect((json.hyperparameters as { rounds: number }).rounds).toBe(2);

    // The baselines start from the federation's base models: zero-shot scores are its round 0.
    const fed = table.runs.find((r) => r.method === 'fedmkt-f32')!;
    expect(fed.failures).toBeUndefined();
    expect(fed.curve!.find((p) => p.round === 0 && p.actor === 'c1')!.accuracy).toBe(row(table, 'slm-zs').clients!.c1!.mean);
    expect(fed.curve!.find((p) => p.round === 0 && p.actor === 'server')!.accuracy).toBe(row(table, 'llm-zs').llm!.mean);
    // LLM2SLM never updates the LLM.
    expect(row(table, 'llm2slm').llm!.mean).toBe(row(table, 'llm-zs').llm!.mean);
    expect(row(table, 'fedmkt-f32').llm).not.toBeNull();
    // Communication: f32 messages are the paper's N·L·K (values + ids) plus token ids, losses and
    // envelope; q8 sends a fraction of that.
    const f32 = row(table, 'fedmkt-f32');
    const q8 = row(table, 'fedmkt-q8');
    const formula = f32.slmFormula!;
    expect(formula.n).toBe(12);
    expect(formula.k).toBe(8);
    expect(f32.slmLogitsBytes!.mean).toBeGreaterThan(formula.f32Bytes);
    expect(f32.slmLogitsBytes!.mean).toBeLessThan(formula.f32Bytes * 1.2);
    expect(q8.slmLogitsBytes!.mean / f32.slmLogitsBytes!.mean).toBeLessThan(0.6);
    expect(q8.llmLogitsBytes!.mean / f32.llmLogitsBytes!.mean).toBeLessThan(0.6);
    const md = readFileSync(join(outDir, 'table.md'), 'utf8');
    expect(md).toContain('| LLM2SLM |');
    expect(md).toContain("## Communication per round, measured against the paper's N·L·K");
  });

  it('homogeneous: FedAvg averages the adapters, so every client ends with the same model', { timeout: 120_000 }, async () => {
    const table = await runExperiment({
      setting: 'homogeneous',
      // Pretrained clients share one base model, as LoRA FedAvg needs.
      base: tinyExperimentScenario(2, {
        protocol: '{ topK: 8, fedAvg: true, awaitSLMLogits: { deadlineMs: 600000, quorum: 2 } }',
        clientPretrain: '{ epochs: 1, factFraction: 0.1 }',
      }),
      baseFile: 'test/experiments/tiny.ts',
      overrides: {},
      seeds: [4, 5],
      methods: ['fedavg', 'fedmkt-f32'],
      learning,
      outDir: tmp('homo'),
    });
    const fedAvg = row(table, 'fedavg');
    expect(fedAvg.clients!.c1!.values).toEqual(fedAvg.clients!.c2!.values);
    expect(fedAvg.slm!.n).toBe(2);
    expect(fedAvg.upPerClient!.mean).toBeGreaterThan(0);
    expect(row(table, 'fedmkt-f32').slm!.n).toBe(2);
    expect(row(table, 'fedmkt-f32').failures).toBe(0);
    // FedMKT in the homogeneous setting also averages: its clients end alike too.
    expect(row(table, 'fedmkt-f32').clients!.c1!.values).toEqual(row(table, 'fedmkt-f32').clients!.c2!.values);
  });

  it('checks the base scenario against the setting', () => {
    expect(settingProblems('one-to-one', tinyExperimentScenario(2))).toContain('one-to-one needs exactly one client, the scenario has 2');
    expect(settingProblems('homogeneous', tinyExperimentScenario(2))).toContain('homogeneous: protocol.fedAvg should be true (FedMKT with LoRA FedAvg)');
    expect(settingProblems('homogeneous', tinyExperimentScenario(2))).toContain(
      'homogeneous: clients without `pretrain` start from different random base models, so averaging their LoRA adapters mixes unrelated models',
    );
    expect(settingProblems('heterogeneous', tinyExperimentScenario(2))).toEqual([]);
    const s = experimentScenario(tinyExperimentScenario(1), { seed: 9, rounds: 3, task: 'boolq', testSamples: 7 });
    expect([s.seed, s.rounds, s.task.name, s.task.testSamples]).toEqual([9, 3, 'boolq', 7]);
    const het = baseScenarioFile('heterogeneous');
    expect(het.file === join('scenarios', 'heterogeneous.yaml') || het.note?.includes('quickstart.yaml')).toBe(true);
    expect(baseScenarioFile('one-to-one').file).toBe(join('scenarios', 'one-to-one.yaml'));
  });

  it('the CLI: `experiment SETTING --seeds N` writes the table with every seed', { timeout: 60_000 }, async () => {
    const dir = tmp('cli');
    const file = join(dir, 'base.yaml');
    writeFileSync(file, stringify(tinyExperimentScenario(1)));
    const program = new Command().exitOverride();
    registerExperimentCommand(program);
    const out = join(dir, 'run');
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await program.parseAsync(
        ['experiment', 'one-to-one', '--scenario', file, '--methods', 'slm-zs,llm-zs', '--seeds', '2', '--seed', '6', '--out', out, '--quiet'],
        {
          from: 'user',
        },
      );
    } finally {
      process.stdout.write = write;
    }
    const json = JSON.parse(readFileSync(join(out, 'table.json'), 'utf8')) as ExperimentTable;
    expect(json.seeds).toEqual([6, 7]);
    expect(json.rows.map((r) => r.method)).toEqual(['slm-zs', 'llm-zs']);
    expect(readFileSync(join(out, 'table.csv'), 'utf8').split('\n')[0]).toContain('slm_mean');
  });

  it.skipIf(!haveData)('a real task (arc_easy): accuracy by answer log-likelihood on Dev items', { timeout: 120_000 }, async () => {
    const table = await runExperiment({
      setting: 'heterogeneous',
      base: tinyExperimentScenario(2),
      baseFile: 'test/experiments/tiny.ts',
      overrides: { task: 'arc_easy', privateSamples: 12, publicSamples: 8, testSamples: 12 },
      seeds: [4],
      methods: ['slm-zs', 'standalone', 'fedmkt-f16'],
      learning,
      outDir: tmp('arc'),
    });
    expect(table.metric).toBe('acc');
    const fed = table.runs.find((r) => r.method === 'fedmkt-f16')!;
    expect(fed.failures).toBeUndefined();
    expect(fed.slms!.c1!.n).toBe(12);
    expect(fed.slms!.c1!.accNorm).toBeGreaterThanOrEqual(0);
  });

  it.skipIf(!haveData)('a generation task (dialogsum): greedy generation scored by Rouge-L F', { timeout: 120_000 }, async () => {
    const table = await runExperiment({
      setting: 'one-to-one',
      base: tinyExperimentScenario(1, { task: '{ privateSamplesPerClient: 8, publicSamples: 6, testSamples: 4, maxNewTokens: 6 }' }),
      baseFile: 'test/experiments/tiny.ts',
      overrides: { task: 'dialogsum' },
      seeds: [4],
      methods: ['slm-zs', 'fedmkt-f32'],
      learning,
      outDir: tmp('dialogsum'),
    });
    expect(table.metric).toBe('rougeL');
    for (const r of table.runs) for (const s of Object.values(r.slms ?? {})) expect(s).toMatchObject({ metric: 'rougeL', n: 4 });
    const v = row(table, 'fedmkt-f32').slm!.mean;
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
    expect(row(table, 'fedmkt-f32').llm!.mean).toBeGreaterThanOrEqual(0);
  });
});
