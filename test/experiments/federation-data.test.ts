import { mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { federationData, loadFederationData, resolveTaskPath } from '../../actors/federation-data.js';
import { datasetsAvailable, datasetsRoot } from '../../core/data/datasets-root.js';
import { experimentScenario } from '../../apps/experiments/experiment.js';
import { tinyExperimentScenario } from './tiny.js';

const haveData = datasetsAvailable();
if (!haveData) console.warn(`shared datasets not found at ${datasetsRoot()}: real-task federation data tests are skipped`);

const key = (s: { prompt: string }) => s.prompt;

describe('federation data', () => {
  it('builtin: the synchronous and the loading path agree; the test set is held out', async () => {
    const scenario = tinyExperimentScenario(3);
    const a = federationData(scenario);
    const b = await loadFederationData(scenario);
    expect(b).toEqual(a);
    expect(a.kind).toBe('multiple-choice');
    expect(a.privateSets.map((s) => s.length)).toEqual([16, 16, 16]);
    expect(a.publicSet).toHaveLength(12);
    expect(a.testSet).toHaveLength(16);
    const trained = new Set([...a.privateSets.flat(), ...a.publicSet].map(key));
    expect(a.testSet.filter((t) => trained.has(key(t)))).toEqual([]);
  });

  it('refuses an unknown task and asks for more samples than a task has', async () => {
    const tiny = tinyExperimentScenario(1);
    await expect(loadFederationData({ ...tiny, task: { ...tiny.task, name: 'nope' } })).rejects.toThrow(/unknown task "nope"/);
    const big = experimentScenario(tinyExperimentScenario(2), { privateSamples: 100_000 });
    await expect(loadFederationData(big)).rejects.toThrow(/privateSamplesPerClient 100000/);
  });
});

describe.skipIf(!haveData)('federation data of real tasks (shared datasets)', () => {
  it('arc_easy: seeded private shards and public part from Train, evaluation items from Dev only', async () => {
    const scenario = experimentScenario(tinyExperimentScenario(3), { task: 'arc_easy', privateSamples: 40, publicSamples: 30, testSamples: 50 });
    const data = await loadFederationData(scenario);
    expect(data.task).toBe('arc_easy');
    expect(data.source?.testFile).toMatch(/ARC-Easy-Dev\.jsonl$/);
    expect(data.privateSets.map((s) => s.length)).toEqual([40, 40, 40]);
    expect(data.publicSet).toHaveLength(30);
    expect(data.testSet).toHaveLength(50);
    expect(data.publicSet[0]!.prompt).toMatch(/^Question: .*\nAnswer:$/s);
    const trained = new Set([...data.privateSets.flat(), ...data.publicSet].map(key));
    expect(data.testSet.filter((t) => trained.has(key(t)))).toEqual([]);
    // No training example is in two parts.
    expect(trained.size).toBe(3 * 40 + 30);
    // Another seed, another shuffle.
    const other = await loadFederationData(experimentScenario(scenario, { seed: 99 }));
    expect(other.publicSet.map(key)).not.toEqual(data.publicSet.map(key));
    // Non-IID by domain (the exam source) keeps the same public part.
    const byDomain = await loadFederationData(experimentScenario(scenario, { split: 'domain' }));
    expect(byDomain.publicSet).toEqual(data.publicSet);
    expect(byDomain.privateSets.map((s) => s.length)).toEqual([40, 40, 40]);
  });

  it('boolq: a held-out share of the one shared file evaluates; label skew by domain', async () => {
    const scenario = experimentScenario(tinyExperimentScenario(2), { task: 'boolq', privateSamples: 50, publicSamples: 20, testSamples: 40, split: 'domain' });
    const data = await loadFederationData(scenario);
    expect(data.source?.heldOut).toEqual({ fraction: 0.2, seed: scenario.seed });
    expect(data.testSet.every((t) => t.choices.join('|') === ' no| yes')).toBe(true);
    const trained = new Set([...data.privateSets.flat(), ...data.publicSet].map(key));
    expect(data.testSet.filter((t) => trained.has(key(t)))).toEqual([]);
    // `domain` split on the gold label: each client's shard is mostly one answer.
    const yesShare = data.privateSets.map((s) => s.filter((x) => x.answer === ' yes').length / s.length);
    expect(Math.abs(yesShare[0]! - yesShare[1]!)).toBeGreaterThan(0.5);
  });

  it('dialogsum: a generation task, evaluated on references never trained on', async () => {
    const data = await loadFederationData(
      experimentScenario(tinyExperimentScenario(2), { task: 'dialogsum', privateSamples: 20, publicSamples: 10, testSamples: 8 }),
    );
    expect(data.kind).toBe('generation');
    expect(data.testSet).toEqual([]);
    expect(data.generationTestSet).toHaveLength(8);
    expect(data.generationTestSet[0]!.prompt).toMatch(/^Summarize the following dialogue\.\n/);
    const trained = new Set([...data.privateSets.flat(), ...data.publicSet].map(key));
    expect(data.generationTestSet.filter((t) => trained.has(key(t)))).toEqual([]);
  });

  it('task.path: a folder, one of the official files, or a single-file task in any file name', async () => {
    const root = datasetsRoot();
    expect(resolveTaskPath('arc_easy', join(root, 'arc_easy'))).toEqual({ dir: join(root, 'arc_easy') });
    expect(resolveTaskPath('arc_easy', join(root, 'arc_easy', 'ARC-Easy-Dev.jsonl'))).toEqual({ dir: join(root, 'arc_easy') });
    expect(() => resolveTaskPath('arc_easy', join(root, 'boolq', 'val.jsonl'))).toThrow(/reads a training and an evaluation file/);
    expect(() => resolveTaskPath('rte', join(root, 'nowhere.jsonl'))).toThrow(/does not exist/);
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-rte-copy-'));
    const file = join(dir, 'my-rte.jsonl');
    copyFileSync(join(root, 'rte', 'train.jsonl'), file);
    const scenario = experimentScenario(tinyExperimentScenario(2), { task: 'rte', dataPath: file, privateSamples: 30, publicSamples: 10, testSamples: 10 });
    const data = await loadFederationData(scenario);
    expect(data.source).toMatchObject({ trainFile: file, testFile: file });
    const viaDefault = await loadFederationData(experimentScenario(scenario, { dataPath: join(root, 'rte') }));
    expect(data.publicSet).toEqual(viaDefault.publicSet);
    expect(data.testSet[0]!.prompt).toMatch(/\nQuestion: .* True or False\?\nAnswer:$/s);
  });
});
