/**
 * The data of one run: the task, the K private shards, the public set and the held-out
 * evaluation items, all fixed by the scenario seed.
 *
 * Any task of the registry (core/data/tasks/registry.ts): `builtin` (generated) or a real one
 * read from its official files (`task.path`, default ../shared/datasets/<name>). The split is the
 * reference's: the task's training set shuffled with the seed, cut into K private shards and
 * one public part (core/data/split.ts; `domain` and `dirichlet` redistribute the private part
 * non-IID and keep the public part). Evaluation items come only from the task's evaluation
 * split (a seeded subset of `testSamples`) and are never trained on.
 */
import { existsSync, mkdtempSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { builtinTask } from '../core/data/builtin-task.js';
import { splitFederated, type DomainHistogram, type SplitStrategy } from '../core/data/split.js';
import type { GenerationItem, Task, TaskKind, TaskSource } from '../core/data/task.js';
import { isTaskName, loadTask, TASK_FILES, type RealTaskName } from '../core/data/tasks/registry.js';
import type { ChoiceItem, TextSample } from '../core/models/model.js';
import { Random } from '../core/random.js';
import type { Scenario } from '../core/scenario/schema.js';

export interface FederationData {
  /** Task name (`builtin` or a real task) and kind. */
  task: string;
  kind: TaskKind;
  privateSets: TextSample[][];
  publicSet: TextSample[];
  /** Multiple-choice evaluation items (empty for a generation task). Never trained on. */
  testSet: ChoiceItem[];
  /** Generation evaluation items (empty for a multiple-choice task). Never trained on. */
  generationTestSet: GenerationItem[];
  /** Every text of the run: what a model's compact vocabulary must cover. */
  corpus: (TextSample | ChoiceItem)[];
  domains: string[];
  /** Examples per domain in each private shard (in shard order) and in the public set. */
  histograms: { private: DomainHistogram[]; public: DomainHistogram };
  /** Where a real task's files were read. */
  source?: TaskSource;
  /** A population's run: the training examples outside the public set, which its clients' shards are drawn from. */
  pool?: (TextSample & { domain: string })[];
}

/** The built-in task's data (synchronous). Real tasks are read from disk: {@link loadFederationData}. */
export function federationData(scenario: Scenario): FederationData {
  if (scenario.task.name !== 'builtin') throw new Error(`task.name "${scenario.task.name}": a real task is read from disk, use loadFederationData`);
  return splitTask(scenario, builtinTask(scenario.seed));
}

/** Any task: `builtin`, or a real task from `task.path` (default: the shared datasets folder). */
export async function loadFederationData(scenario: Scenario): Promise<FederationData> {
  const { task } = scenario;
  if (task.name === 'builtin') return federationData(scenario);
  if (!isTaskName(task.name)) throw new Error(`task.name: unknown task "${task.name}"`);
  const name = task.name as RealTaskName;
  const where = resolveTaskPath(name, task.path);
  const loaded = await loadTask(name, {
    seed: scenario.seed,
    ...(where ? { path: where.dir } : {}),
    ...(task.evalFraction !== undefined ? { evalFraction: task.evalFraction } : {}),
  });
  if (where?.linked && loaded.source) {
    const real = where.linked;
    loaded.source = { ...loaded.source, trainFile: real, testFile: real };
  }
  return splitTask(scenario, loaded);
}

/**
 * `task.path` as the folder a loader reads: a folder as is; one of the task's official files by
 * its folder; for a task shipped as one file, any file in that format (linked under the official
 * name in a temporary folder; `linked` is the real file).
 */
export function resolveTaskPath(name: RealTaskName, path: string | undefined): { dir: string; linked?: string } | undefined {
  if (path === undefined) return undefined;
  const full = resolve(path);
  if (!existsSync(full)) throw new Error(`task.path: ${full} does not exist`);
  if (statSync(full).isDirectory()) return { dir: full };
  const files = TASK_FILES[name];
  if (files.includes(basename(full))) return { dir: dirname(full) };
  if (files.length === 1) {
    const dir = mkdtempSync(join(tmpdir(), `fedmkt-${name}-`));
    symlinkSync(full, join(dir, files[0]!));
    return { dir, linked: full };
  }
  throw new Error(`task.path: ${name} reads a training and an evaluation file (${files.join(', ')}); give their folder or one of them, got ${full}`);
}

function splitTask(scenario: Scenario, built: Task): FederationData {
  const { task } = scenario;
  const strategy: SplitStrategy =
    task.split === 'iid'
      ? { kind: 'iid' }
      : task.split === 'domain'
        ? { kind: 'domain', ownShare: 1 - task.otherDomainShare }
        : { kind: 'dirichlet', alpha: task.dirichletAlpha };
  const k = scenario.clients.length;
  const needed = k * task.privateSamplesPerClient + task.publicSamples;
  if (needed > built.train.length)
    throw new Error(
      `task: ${k} clients x privateSamplesPerClient ${task.privateSamplesPerClient} + publicSamples ${task.publicSamples} = ${needed} samples, but the ${built.name} task has ${built.train.length} training examples`,
    );
  const split = splitFederated(built.train, {
    seed: scenario.seed,
    clients: k,
    sizes: { private: scenario.clients.map(() => task.privateSamplesPerClient), public: task.publicSamples },
    strategy,
  });
  const toSample = (e: TextSample): TextSample => ({ prompt: e.prompt, answer: e.answer });
  const privateSets = scenario.clients.map((c, i) => (split.private[c.shard ?? i] ?? []).map(toSample));
  const histograms = {
    private: scenario.clients.map((c, i) => split.histograms.private[c.shard ?? i] ?? {}),
    public: split.histograms.public,
  };
  const publicSet = split.public.map(toSample);
  const inPublic = new Set<unknown>(split.public);
  const pool = scenario.population
    ? built.train.filter((e) => !inPublic.has(e)).map((e) => ({ prompt: e.prompt, answer: e.answer, domain: e.domain }))
    : undefined;
  const common = {
    task: built.name,
    privateSets,
    publicSet,
    domains: split.domains,
    histograms,
    ...(built.source ? { source: built.source } : {}),
    ...(pool ? { pool } : {}),
  };
  const pick = <T>(items: readonly T[]): T[] => Random.stream(scenario.seed, 'test-subset').shuffle(items).slice(0, task.testSamples);
  if (built.kind === 'generation') {
    const generationTestSet = pick(built.test).map((t) => ({ prompt: t.prompt, reference: t.reference, domain: t.domain }));
    const used = [...privateSets.flat(), ...publicSet, ...generationTestSet.map((g) => ({ prompt: g.prompt, answer: ` ${g.reference}` }))];
    return { ...common, kind: 'generation', testSet: [], generationTestSet, corpus: used };
  }
  const testSet = pick(built.test).map((t) => ({ prompt: t.prompt, choices: t.choices, label: t.label }));
  // The built-in task's vocabulary covers its whole world (as before); a real task's covers the
  // texts this run uses, so that a few hundred samples do not carry a vocabulary of thousands.
  const corpus = built.name === 'builtin' ? [...built.train.map(toSample), ...testSet] : [...privateSets.flat(), ...publicSet, ...testSet];
  return { ...common, kind: 'multiple-choice', testSet, generationTestSet: [], corpus };
}
