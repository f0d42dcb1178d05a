/**
 * Every task by name: the built-in task and the real tasks read from the shared datasets.
 */
import { join } from 'node:path';
import { builtinTask, type BuiltinTaskOptions } from '../builtin-task.js';
import { datasetsRoot } from '../datasets-root.js';
import type { Task } from '../task.js';
import { loadArc } from './arc.js';
import { loadBoolq } from './boolq.js';
import { loadCommonsenseQa } from './commonsenseqa.js';
import { loadDialogSum } from './dialogue-summary-loader.js';
import { DEFAULT_EVAL_FRACTION, sampleInOrder } from './holdout.js';
import { loadOpenBookQa } from './openbookqa.js';
import { loadRte } from './rte.js';
import { loadWic } from './wic.js';

export const REAL_TASK_NAMES = [
  'arc_easy',
  'arc_challenge',
  'openbookqa',
  'commonsenseqa',
  'boolq',
  'rte',
  'wic',
  'dialogsum',
] as const;

export type RealTaskName = (typeof REAL_TASK_NAMES)[number];
export type TaskName = 'builtin' | RealTaskName;
export const TASK_NAMES: readonly TaskName[] = ['builtin', ...REAL_TASK_NAMES];

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
