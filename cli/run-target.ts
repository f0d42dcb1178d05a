/**
 * What `run`, `serve` and `join` run: the scenario with the command line's changes, the output
 * folder, and for `--resume DIR` the run's own scenario and folder. Everything here is checked
 * before any folder is made.
 */
import { InvalidArgumentError } from 'commander';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../core/scenario/load.js';
import type { ScenarioOverride } from '../core/scenario/overrides.js';
import type { Scenario } from '../core/scenario/schema.js';

export interface TargetOptions {
  seed?: number;
  rounds?: number;
  out?: string;
  resume?: string;
  dropLateFaults?: boolean;
}

export interface RunTarget {
  scenario: Scenario;
  outDir: string;
  /** `--resume DIR`: the run goes on in its own folder. */
  resuming: boolean;
}

/** `--seed` and `--rounds` as scenario overrides that name their flags. */
function flagOverrides(opts: Pick<TargetOptions, 'seed' | 'rounds'>): ScenarioOverride[] {
  return [
    ...(opts.seed !== undefined ? [{ path: 'seed', value: opts.seed, flag: `--seed ${opts.seed}` }] : []),
    ...(opts.rounds !== undefined ? [{ path: 'rounds', value: opts.rounds, flag: `--rounds ${opts.rounds}` }] : []),
  ];
}

/** A fresh run's folder name: `runs/<time>-<scenario>[-<party>]`. */
function defaultRunDir(name: string, party?: string): string {
  return join('runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-${name}${party ? `-${party}` : ''}`);
}

/** The scenario and output folder of `CMD FILE`, or of `CMD --resume DIR` (`party`: this process's actor, for its folder's name). */
export function runTarget(file: string | undefined, opts: TargetOptions, log: (line: string) => void, party?: string): RunTarget {
  const load = (path: string) => loadScenario(path, { overrides: flagOverrides(opts), ...(opts.dropLateFaults ? { dropLateFaults: true } : {}), onNote: log });
  if (opts.resume === undefined) {
    if (file === undefined) throw new InvalidArgumentError('give a scenario file, or --resume RUN_DIR');
    const scenario = load(file);
    return { scenario, outDir: opts.out ?? defaultRunDir(scenario.name, party), resuming: false };
  }
  const dir = opts.resume;
  if (file !== undefined)
    throw new InvalidArgumentError(`--resume ${dir}: the scenario is the run's own (${join(dir, 'scenario.yaml')}); give no scenario file`);
  if (opts.out !== undefined) throw new InvalidArgumentError(`--resume ${dir}: a resumed run writes into its own folder; drop --out`);
  if (opts.seed !== undefined) throw new InvalidArgumentError(`--resume ${dir}: the seed is the run's own; drop --seed`);
  const scenarioFile = join(dir, 'scenario.yaml');
  if (!existsSync(scenarioFile)) throw new InvalidArgumentError(`--resume ${dir}: no scenario.yaml there, so not a run folder`);
  // --rounds may extend a finished run.
  return { scenario: load(scenarioFile), outDir: dir, resuming: true };
}

/**
 * Removes the output folder of a run that failed before it recorded anything, when this command
 * made it: bad input leaves no half-written folder behind. Anything recorded is kept.
 */
export function removeIfNothingRecorded(outDir: string, existedBefore: boolean): boolean {
  if (existedBefore || !existsSync(outDir)) return false;
  const events = join(outDir, 'events.jsonl');
  if (existsSync(events) && statSync(events).size > 0) return false;
  if (existsSync(join(outDir, 'checkpoints')) && readdirSync(join(outDir, 'checkpoints')).length > 0) return false;
  rmSync(outDir, { recursive: true, force: true });
  return true;
}
