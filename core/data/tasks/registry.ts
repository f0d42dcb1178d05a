/**
 * Every task by name: the built-in task and the real tasks read from the shared datasets.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { unknownName } from '../../suggest.js';
import { builtinTask, type BuiltinTaskOptions } from '../builtin-task.js';
import { DATASETS_ENV, datasetsRoot } from '../datasets-root.js';
import type { Task } from '../task.js';
import { loadArc } from './arc.js';
import { loadBoolq } from './boolq.js';
import { loadCommonsenseQa } from './commonsenseqa.js';
import { loadDialogSum } from './dialogue-summary-loader.js';
import { DEFAULT_EVAL_FRACTION, sampleInOrder } from './holdout.js';
import { loadOpenBookQa } from './openbookqa.js';
import { loadRte } from './rte.js';
import { loadWic } from './wic.js';

export const REAL_TASK_NAMES = ['arc_easy', 'arc_challenge', 'openbookqa', 'commonsenseqa', 'boolq', 'rte', 'wic', 'dialogsum'] as const;

export type RealTaskName = (typeof REAL_TASK_NAMES)[number];

/** The official file names of each real task, as its loader reads them. */
export const TASK_FILES: Record<RealTaskName, readonly string[]> = {
  arc_easy: ['ARC-Easy-Train.jsonl', 'ARC-Easy-Dev.jsonl'],
  arc_challenge: ['ARC-Challenge-Train.jsonl', 'ARC-Challenge-Dev.jsonl'],
  openbookqa: ['train.jsonl', 'dev.jsonl'],
  commonsenseqa: ['train_rand_split.jsonl'],
  boolq: ['val.jsonl'],
  rte: ['train.jsonl'],
  wic: ['train.jsonl'],
  dialogsum: ['dialogsum.dev.jsonl'],
};

export type TaskName = 'builtin' | RealTaskName;
const TASK_NAMES: readonly TaskName[] = ['builtin', ...REAL_TASK_NAMES];

export interface LoadTaskOptions {
  /** Seeds the held-out cut of single-file tasks, the `limit` sample and the built-in world. */
  seed: number;
  /** Folder holding this task's files; default `<datasets root>/<task name>`. Unused by builtin. */
  path?: string;
  /** Keep at most this many training examples and this many evaluation items (a seeded sample, order kept). */
  limit?: number;
  /** Held-out share for tasks shipped as one file (rte, wic, commonsenseqa, boolq, dialogsum); default 0.2. */
  evalFraction?: number;
  /** Options of the built-in task. */
  builtin?: BuiltinTaskOptions;
}

export function isTaskName(name: string): name is TaskName {
  return (TASK_NAMES as readonly string[]).includes(name);
}

/**
 * Why loading task `name` from `path` (default: its folder under the datasets root) would fail
 * before reading a line: an unknown name, a path that is not there, a folder without the task's
 * files (without `filesHere`, the name only). Null when all is in place. `field` says which
 * scenario field is at fault.
 */
export function datasetProblem(name: string, path?: string, filesHere = true): { field: 'name' | 'path'; message: string } | null {
  if (!isTaskName(name)) return { field: 'name', message: unknownName('task', name, TASK_NAMES) };
  if (name === 'builtin' || !filesHere) return null;
  const files = TASK_FILES[name];
  const listed = files.join(', ');
  if (path === undefined) {
    const dir = join(datasetsRoot(), name);
    const missing = files.filter((f) => !existsSync(join(dir, f)));
    if (missing.length === 0) return null;
    return {
      field: 'name',
      message: `${name}: no ${missing.join(', ')} in ${dir} (set task.path to the folder holding ${listed}, or ${DATASETS_ENV} to the folder of datasets)`,
    };
  }
  const full = resolve(path);
  if (!existsSync(full)) return { field: 'path', message: `${full} does not exist` };
  if (!statSync(full).isDirectory()) {
    if (files.length === 1) return null;
    if (!files.includes(basename(full)))
      return { field: 'path', message: `${name} reads a training and an evaluation file (${listed}); give their folder or one of them, got ${full}` };
  }
  const dir = statSync(full).isDirectory() ? full : dirname(full);
  const missing = files.filter((f) => !existsSync(join(dir, f)));
  return missing.length === 0 ? null : { field: 'path', message: `${name} reads ${listed}; ${dir} has no ${missing.join(', ')}` };
}

async function loadFull(name: TaskName, options: LoadTaskOptions): Promise<Task> {
  if (name === 'builtin') return builtinTask(options.seed, options.builtin);
  const dir = options.path ?? join(datasetsRoot(), name);
  const fraction = options.evalFraction ?? DEFAULT_EVAL_FRACTION;
  switch (name) {
    case 'arc_easy':
      return loadArc('easy', dir);
    case 'arc_challenge':
      return loadArc('challenge', dir);
    case 'openbookqa':
      return loadOpenBookQa(dir);
    case 'commonsenseqa':
      return loadCommonsenseQa(dir, options.seed, fraction);
    case 'boolq':
      return loadBoolq(dir, options.seed, fraction);
    case 'rte':
      return loadRte(dir, options.seed, fraction);
    case 'wic':
      return loadWic(dir, options.seed, fraction);
    case 'dialogsum':
      return loadDialogSum(dir, options.seed, fraction);
  }
}

export async function loadTask(name: string, options: LoadTaskOptions): Promise<Task> {
  if (!isTaskName(name)) throw new Error(`unknown task "${name}"; known tasks: ${TASK_NAMES.join(', ')}`);
  const task = await loadFull(name, options);
  const { limit, seed } = options;
  if (limit === undefined) return task;
  // The held-out cut is made on the full file first, so `limit` never moves an item across it.
  if (task.kind === 'multiple-choice') {
    return { ...task, train: sampleInOrder(task.train, limit, seed, `${name}/train`), test: sampleInOrder(task.test, limit, seed, `${name}/test`) };
  }
  return { ...task, train: sampleInOrder(task.train, limit, seed, `${name}/train`), test: sampleInOrder(task.test, limit, seed, `${name}/test`) };
}
