/**
 * `fedmkt report RUN_DIR`: writes RUN_DIR/report.html, one self-contained page with accuracy
 * and bytes per round, the swimlane timeline and the scenario.
 */
import type { Command } from 'commander';
import { isExplorationDir, writeExplorationReport } from '../../apps/report/exploration.js';
import { writeReport } from '../../apps/report/index.js';
import { positiveInt } from '../options.js';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('write RUN_DIR/report.html from events.jsonl, metrics.jsonl and scenario.yaml (self-contained, no network)')
    .argument('<runDir>', 'a run directory, or the output of fedmkt explore')
    .option('--max-lanes <n>', 'one lane per actor up to this many actors; beyond, clients are aggregated by state', positiveInt, 40)
    .option('--no-compress-idle', 'draw stretches in which nothing happens at full width')
    .action((runDir: string, opts: { maxLanes: number; compressIdle: boolean }, command: Command) => {
      const start = process.hrtime.bigint();
      let path: string;
      try {
        const options = { maxLanes: opts.maxLanes, compressIdle: opts.compressIdle };
        path = isExplorationDir(runDir) ? writeExplorationReport(runDir, (dir) => writeReport(dir, options)) : writeReport(runDir, options);
      } catch (error) {
        command.error(`error: ${(error as Error).message}`, { exitCode: 1 });
      }
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      process.stdout.write(`${path}\n`);
      process.stderr.write(`report written in ${seconds.toFixed(2)} s\n`);
    });
}
