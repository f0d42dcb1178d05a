import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkedCommonRound,
  checkpointedRounds,
  checkpointParties,
  type ResumePoint,
  resumePoint,
  unreadableCheckpoints,
} from '../../actors/round-checkpoints.js';
import { loadScenario, ScenarioError } from '../../core/scenario/load.js';
import { partiesText, type Scenario } from '../../core/scenario/schema.js';
import { plural } from '../../core/wording.js';

/** A run folder: its scenario, and the checkpoints `run --resume` would read. Returns the problems. */
async function runFolderProblems(dir: string, scenario: Scenario): Promise<{ problems: string[]; note: string }> {
  const { actors, population, modelless } = checkpointParties(scenario);
  const rounds = checkpointedRounds(dir, actors, population);
  if (Object.values(rounds).every((list) => list.length === 0)) return { problems: [], note: 'no round checkpoints' };
  const cut = checkedCommonRound(dir, actors, population);
  // A finished run need not be resumable; `run --resume` says why when asked to.
  if (cut === null) return { problems: [], note: 'not resumable: no round that every actor checkpointed' };
  let point: ResumePoint;
  try {
    point = resumePoint(dir, actors, population);
  } catch (error) {
    return { problems: [(error as Error).message], note: '' };
  }
  return { problems: await unreadableCheckpoints(point, modelless), note: `resumable after round ${point.afterRound}` };
}

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check scenario files (or run folders) as `run` would, reporting every problem with its place')
    .argument('<files...>', 'scenario YAML files, or run folders (their scenario.yaml and the checkpoints a resume reads)')
    .action(async (files: string[]) => {
      let bad = 0;
      for (const file of files) {
        const folder = existsSync(file) && statSync(file).isDirectory();
        const scenarioFile = folder ? join(file, 'scenario.yaml') : file;
        try {
          if (folder && !existsSync(scenarioFile)) throw new ScenarioError(file, [{ path: '', message: 'a folder without scenario.yaml is not a run folder' }]);
          const s = loadScenario(scenarioFile);
          const run = folder ? await runFolderProblems(file, s) : null;
          if (run && run.problems.length > 0) {
            process.stderr.write(`${file}: ${plural(run.problems.length, 'problem')}\n${run.problems.map((p) => `  checkpoints: ${p}`).join('\n')}\n`);
            bad++;
            continue;
          }
          process.stdout.write(`${file}: ok (${s.name}: server + ${partiesText(s)}, ${plural(s.rounds, 'round')}${run ? `; ${run.note}` : ''})\n`);
        } catch (error) {
          if (!(error instanceof ScenarioError)) throw error;
          process.stderr.write(`${error.message}\n`);
          bad++;
        }
      }
      if (bad > 0) process.exitCode = 2;
    });
}
