import { type Command, InvalidArgumentError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runExperiment } from '../../apps/experiments/experiment.js';
import { LOGIT_ENCODINGS, methodsFor, SETTINGS, type Setting } from '../../apps/experiments/methods.js';
import { renderMarkdown } from '../../apps/experiments/table.js';
import type { BackendName } from '../../core/models/backend.js';
import type { LogitEncoding } from '../../core/protocol/codec.js';
import { loadScenario } from '../../core/scenario/load.js';
import { nonNegativeInt, positiveInt } from '../options.js';
import { modeList, stragglersCommand, type StragglersCliOptions } from './experiment-stragglers.js';

function encodingList(value: string): LogitEncoding[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const e of list) if (!(LOGIT_ENCODINGS as readonly string[]).includes(e)) throw new InvalidArgumentError(`unknown logit encoding "${e}" (f32, f16, q8)`);
  return list as LogitEncoding[];
}

/** The base scenario of a setting; heterogeneous falls back to quickstart.yaml while its own file is absent. */
export function baseScenarioFile(setting: Setting, scenariosDir = 'scenarios'): { file: string; note?: string } {
  if (setting === 'homogeneous') return { file: join(scenariosDir, 'homogeneous.yaml') };
  if (setting === 'one-to-one') return { file: join(scenariosDir, 'one-to-one.yaml') };
  const own = join(scenariosDir, 'heterogeneous.yaml');
  if (existsSync(own)) return { file: own };
  return { file: join(scenariosDir, 'quickstart.yaml'), note: 'scenarios/heterogeneous.yaml absent: quickstart.yaml is the heterogeneous base' };
}

interface ExperimentCliOptions {
  task?: string;
  data?: string;
  seeds: number;
  seed?: number;
  rounds?: number;
  out?: string;
  scenario?: string;
  encodings?: LogitEncoding[];
  methods?: string;
  private?: number;
  public?: number;
  test?: number;
  split?: 'iid' | 'domain' | 'dirichlet';
  publish?: string;
  backend?: BackendName;
  quiet?: boolean;
  curves?: boolean;
}

export function registerExperimentCommand(program: Command): void {
  program
    .command('experiment')
    .description("run FedMKT and a setting's baselines on a task; write the table (Markdown, CSV, JSON) into the run folder")
    .addArgument(program.createArgument('<setting>', 'heterogeneous | homogeneous | one-to-one | stragglers').choices([...SETTINGS, 'stragglers']))
    .option(
      '--task <name>',
      "task: builtin or a real task (arc_easy, arc_challenge, openbookqa, commonsenseqa, boolq, rte, wic, dialogsum); default the base scenario's",
    )
    .option('--data <path>', "the task's folder or file (default ../shared/datasets/<task>)")
    .option('--seeds <n>', 'repeat with n seeds (first, first+1, ...) and report mean and spread', positiveInt, 1)
    .option('--seed <n>', "first seed (default the base scenario's)", nonNegativeInt)
    .option('--rounds <n>', 'override the number of rounds', positiveInt)
    .option('--out <dir>', 'output folder (default runs/<time>-experiment-<setting>-<task>)')
    .option('--scenario <file>', "base scenario instead of the setting's own")
    .option('--encodings <list>', 'FedMKT rows: logit encodings, comma-separated (default f32,f16,q8)', encodingList)
    .option('--methods <ids>', 'only these rows, comma-separated ids (slm-zs, llm-zs, standalone, fedavg, llm2slm, centralized-llm, fedmkt-f32, ...)')
    .option('--private <n>', 'private samples per client', positiveInt)
    .option('--public <n>', 'public samples', positiveInt)
    .option('--test <n>', 'evaluation items', positiveInt)
    .addOption(new Option('--split <kind>', 'private split').choices(['iid', 'domain', 'dirichlet']))
    .option('--publish <dir>', 'also write <setting>-<task>.md/.csv/.json into this folder (e.g. docs/results)')
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
    .option('--curves', "federations: also evaluate every round (per-round accuracy in table.json and each run's metrics.jsonl)")
    .option('--quiet', 'no progress lines')
    .option('--modes <list>', 'stragglers: protocol modes, comma-separated (default sync,buffered,async)', modeList)
    .option('--no-stragglers', 'stragglers: the same runs without the straggler profile (the contrast)')
    .option('--buffer-size <n>', "stragglers: buffered mode's buffer (default half the clients)", positiveInt)
    .action(async (setting: Setting | 'stragglers', opts: ExperimentCliOptions & Omit<StragglersCliOptions, keyof ExperimentCliOptions>) => {
      if (setting === 'stragglers') return stragglersCommand(opts);
      const chosen = opts.scenario ? { file: opts.scenario } : baseScenarioFile(setting);
      const base = loadScenario(chosen.file);
      const task = opts.task ?? base.task.name;
      const methods = opts.methods
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const known = methodsFor(setting, opts.encodings ?? LOGIT_ENCODINGS).map((m) => m.id);
      for (const m of methods ?? [])
        if (!known.includes(m)) throw new InvalidArgumentError(`--methods: "${m}" is not a row of ${setting} (${known.join(', ')})`);
      const first = opts.seed ?? base.seed;
      const seeds = Array.from({ length: opts.seeds }, (_, i) => first + i);
      const outDir = opts.out ?? join('runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-experiment-${setting}-${task}`);
      const log = opts.quiet ? undefined : (line: string) => process.stderr.write(`[fedmkt] ${line}\n`);
      if (chosen.note) process.stderr.write(`[fedmkt] ${chosen.note}\n`);
      const learning = await defaultLearningStack({ ...(opts.backend ? { backend: opts.backend } : {}), ...(log ? { log } : {}) });
      try {
        const table = await runExperiment({
          setting,
          base,
          baseFile: chosen.file,
          ...(chosen.note ? { baseNote: chosen.note } : {}),
          overrides: {
            task,
            ...(opts.data !== undefined ? { dataPath: opts.data } : {}),
            ...(opts.rounds !== undefined ? { rounds: opts.rounds } : {}),
            ...(opts.private !== undefined ? { privateSamples: opts.private } : {}),
            ...(opts.public !== undefined ? { publicSamples: opts.public } : {}),
            ...(opts.test !== undefined ? { testSamples: opts.test } : {}),
            ...(opts.split !== undefined ? { split: opts.split } : {}),
          },
          seeds,
          ...(opts.encodings ? { encodings: opts.encodings } : {}),
          ...(methods ? { methods } : {}),
          learning,
          outDir,
          // A base scenario of one's own names its own file: it never overwrites the setting's.
          ...(opts.publish ? { publish: { dir: opts.publish, name: opts.scenario ? `${setting}-${task}-${base.name}` : `${setting}-${task}` } } : {}),
          command: `npx fedmkt ${process.argv
            .slice(2)
            .filter((_, i, a) => a[i] !== '--out' && a[i - 1] !== '--out')
            .join(' ')}`,
          ...(opts.curves ? { curves: true } : {}),
          ...(log ? { log } : {}),
        });
        process.stdout.write(`${renderMarkdown(table)}\n`);
        process.stdout.write(`table.md, table.csv and table.json in ${outDir}\n`);
        if (table.rows.some((r) => r.failures > 0)) process.exitCode = 1;
      } finally {
        await learning.close?.();
      }
    });
}
