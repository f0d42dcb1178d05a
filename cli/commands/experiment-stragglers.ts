/**
 * `fedmkt experiment stragglers --modes sync,buffered,async`: the synchronous round against
 * buffered and asynchronous FedMKT under a heavy-tailed straggler profile (docs/async.md).
 */
import { InvalidArgumentError } from 'commander';
import { join } from 'node:path';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { accuracyTimeChart } from '../../apps/experiments/stragglers-chart.js';
import { PROTOCOL_MODES, renderStragglersMarkdown, runStragglers, writeStragglersResults, type ProtocolMode } from '../../apps/experiments/stragglers.js';
import type { BackendName } from '../../core/models/backend.js';
import { loadScenario } from '../../core/scenario/load.js';

const STRAGGLERS_SCENARIO = 'scenarios/stragglers-async.yaml';

export function modeList(value: string): ProtocolMode[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const m of list) if (!(PROTOCOL_MODES as readonly string[]).includes(m)) throw new InvalidArgumentError(`unknown mode "${m}" (sync, buffered, async)`);
  return list as ProtocolMode[];
}

export interface StragglersCliOptions {
  modes?: ProtocolMode[];
  seeds: number;
  seed?: number;
  rounds?: number;
  bufferSize?: number;
  out?: string;
  scenario?: string;
  publish?: string;
  backend?: BackendName;
  quiet?: boolean;
  /** false (`--no-stragglers`): the same runs without the straggler profile, for the contrast. */
  stragglers?: boolean;
}

export async function stragglersCommand(opts: StragglersCliOptions): Promise<void> {
  const file = opts.scenario ?? STRAGGLERS_SCENARIO;
  const base = loadScenario(file);
  if (opts.rounds !== undefined) base.rounds = opts.rounds;
  if (opts.stragglers === false) delete base.faults.stragglers;
  const first = opts.seed ?? base.seed;
  const seeds = Array.from({ length: opts.seeds }, (_, i) => first + i);
  const modes = opts.modes ?? [...PROTOCOL_MODES];
  const outDir = opts.out ?? join('runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-experiment-stragglers`);
  const log = opts.quiet ? undefined : (line: string) => process.stderr.write(`[fedmkt] ${line}\n`);
  const learning = await defaultLearningStack({ ...(opts.backend ? { backend: opts.backend } : {}), ...(log ? { log } : {}) });
  try {
    const runs = await runStragglers({
      base,
      modes,
      seeds,
      ...(opts.bufferSize ? { bufferSize: opts.bufferSize } : {}),
      learning,
      outDir,
      ...(log ? { log } : {}),
    });
    const command = `npx fedmkt ${process.argv
      .slice(2)
      .filter((_, i, a) => a[i] !== '--out' && a[i - 1] !== '--out')
      .join(' ')}`;
    const markdown = renderStragglersMarkdown(runs, command);
    const profile = opts.stragglers === false ? 'no stragglers' : 'heavy-tailed stragglers';
    const svg = accuracyTimeChart(runs, `${base.name}, ${profile}: server accuracy against virtual time (${seeds.length} seeds)`);
    writeStragglersResults(outDir, 'table', runs, markdown, svg);
    // A base scenario of one's own names its own files: it never overwrites the shipped one's.
    const name = `stragglers-${base.task.name}${opts.scenario ? `-${base.name}` : ''}${opts.stragglers === false ? '-none' : ''}`;
    if (opts.publish) writeStragglersResults(opts.publish, name, runs, markdown, svg);
    process.stdout.write(`${markdown}\n\ntable.md, table.csv, table.json and table.svg in ${outDir}\n`);
    if (runs.some((r) => r.failures > 0 || r.violations > 0)) process.exitCode = 1;
  } finally {
    await learning.close?.();
  }
}
