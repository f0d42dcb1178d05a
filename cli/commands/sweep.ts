/**
 * `fedmkt sweep SCENARIO --set path=v1,v2,... [--set ...]`: runs every combination of the
 * values, then prints one row per variant (participation, rounds completed, time to quorum,
 * final accuracy of each model; a population's figures per template) and writes the table as sweep.csv and sweep.json next to the
 * variants' run folders.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation, type LearningStack } from '../../actors/federation.js';
import { summariseRun, type RunSummary } from '../../core/faults/summary.js';
import { templateLabel } from '../../core/population/templates.js';
import { perRoundOf } from '../../core/scenario/population-schema.js';
import type { BackendName } from '../../core/models/backend.js';
import { loadScenario } from '../../core/scenario/load.js';
import type { ScenarioOverride } from '../../core/scenario/overrides.js';
import { nonNegativeInt } from '../options.js';

export interface SweepAxis {
  /** Dotted path into the scenario document, e.g. `faults.dropout.p` or `clients.0.profile.latencyMs`. */
  path: string;
  values: unknown[];
}

export interface SweepRow {
  variant: string;
  settings: Record<string, unknown>;
  summary: RunSummary;
  failures: number;
  violations: number;
  outDir: string;
}

/** `faults.dropout.p=0,0.1,0.3`: values are YAML scalars (numbers, booleans, strings). */
export function parseSetting(text: string): SweepAxis {
  const at = text.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected path=value[,value...], got "${text}"`);
  const path = text.slice(0, at).trim();
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(path)) throw new InvalidArgumentError(`"${path}" is not a dotted path`);
  const values = text
    .slice(at + 1)
    .split(',')
    .map((v) => parseYaml(v.trim()) as unknown);
  if (values.length === 0 || values.some((v) => v === null || v === undefined)) throw new InvalidArgumentError(`no value for ${path}`);
  return { path, values };
}

/** One variant's settings as scenario overrides, each naming the `--set` it came from. */
function settingOverrides(settings: Record<string, unknown>): ScenarioOverride[] {
  return Object.entries(settings).map(([path, value]) => ({ path, value, flag: `--set ${path}=${String(value)}` }));
}

/** Every combination of the axes' values, first axis slowest. */
export function combinations(axes: readonly SweepAxis[]): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const axis of axes) out = out.flatMap((partial) => axis.values.map((v) => ({ ...partial, [axis.path]: v })));
  return out;
}

export async function runSweep(
  file: string,
  axes: readonly SweepAxis[],
  outDir: string,
  learning: () => Promise<LearningStack>,
  log: (line: string) => void = () => undefined,
): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const settings of combinations(axes)) {
    const variant = Object.entries(settings)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',');
    const scenario = loadScenario(file, { overrides: settingOverrides(settings) });
    const dir = join(outDir, variant.replace(/[^A-Za-z0-9_.,=-]/g, '_') || 'base');
    log(`${variant || '(scenario as is)'}: running`);
    const result = await runFederation(scenario, { outDir: dir, learning: await learning() });
    // A population's clients come and go: its sample measured, its perRound awaited.
    const measured = [...new Set(result.recorder.metrics.filter((m) => m.role === 'client').map((m) => m.actor))];
    const summary = scenario.population
      ? summariseRun(result.recorder.events, result.recorder.metrics, measured, scenario.rounds, perRoundOf(scenario.population, scenario.selection))
      : summariseRun(
          result.recorder.events,
          result.recorder.metrics,
          scenario.clients.map((c) => c.id),
          scenario.rounds,
        );
    rows.push({ variant, settings, summary, failures: Object.keys(result.failures).length, violations: result.violations.length, outDir: dir });
  }
  return rows;
}

const fmt = (x: number | null, digits = 3) => (x === null ? '-' : x.toFixed(digits));

/**
 * Columns: the swept settings, participation, rounds, time to quorum, accuracy of each model; for
 * a population of several templates, each template's share of its announced clients that uploaded
 * in time and its measured clients' final accuracy.
 */
export function sweepTable(rows: readonly SweepRow[], axes: readonly SweepAxis[]): { header: string[]; cells: string[][] } {
  const actors = [...new Set(rows.flatMap((r) => Object.keys(r.summary.finalAccuracy)))];
  const clients = actors.filter((a) => a !== 'server');
  const templates = [...new Set(rows.flatMap((r) => r.summary.templates.map((t) => t.template)))].sort((a, b) => a - b);
  // A population's measured clients differ from round to round: a column each would say little.
  const perClient = templates.length === 0 && clients.length <= 8 ? clients : [];
  const perTemplate = templates.length > 1 ? templates : [];
  const templateOf = (r: SweepRow, t: number) => r.summary.templates.find((x) => x.template === t);
  const header = [
    ...axes.map((a) => a.path),
    'participation',
    'rounds completed',
    'time to quorum s',
    'acc server',
    'acc clients (mean)',
    ...perClient.map((c) => `acc ${c}`),
    ...perTemplate.flatMap((t) => [`uploads/announced ${templateLabel(t)}`, `acc ${templateLabel(t)}`]),
    'dropouts',
    'crashes',
    'message faults',
    'violations',
    'failures',
  ];
  const cells = rows.map((r) => [
    ...axes.map((a) => String(r.settings[a.path])),
    fmt(r.summary.participation),
    `${r.summary.roundsCompleted}/${r.summary.rounds}`,
    fmt(r.summary.timeToQuorumS, 1),
    fmt(r.summary.finalAccuracy.server ?? null),
    fmt(r.summary.clientAccuracy),
    ...perClient.map((c) => fmt(r.summary.finalAccuracy[c] ?? null)),
    ...perTemplate.flatMap((t) => {
      const f = templateOf(r, t);
      return [fmt(f && f.announced > 0 ? f.uploads / f.announced : null), fmt(f?.clientAccuracy ?? null)];
    }),
    String(r.summary.dropouts),
    String(r.summary.crashes),
    String(r.summary.messageFaults),
    String(r.violations),
    String(r.failures),
  ]);
  return { header, cells };
}

export function formatTable(table: { header: string[]; cells: string[][] }): string {
  const widths = table.header.map((h, i) => Math.max(h.length, ...table.cells.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  return [line(table.header), widths.map((w) => '-'.repeat(w)).join('  '), ...table.cells.map(line)].join('\n');
}

function csvCell(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(table: { header: string[]; cells: string[][] }): string {
  return `${[table.header, ...table.cells].map((row) => row.map(csvCell).join(',')).join('\n')}\n`;
}

export function registerSweepCommand(program: Command): void {
  program
    .command('sweep')
    .description('run a scenario once per combination of --set values; print and save a table (CSV, JSON)')
    .argument('<scenario>', 'scenario YAML file')
    .option(
      '--set <path=values>',
      'a scenario path and comma-separated values, e.g. faults.dropout.p=0,0.1,0.3 (repeatable)',
      (v: string, prev: SweepAxis[]) => [...prev, parseSetting(v)],
      [] as SweepAxis[],
    )
    .option('--out <dir>', 'output folder (default runs/<time>-sweep-<scenario>)')
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
    .option('--workers <n>', 'model worker threads (0: in the main thread)', nonNegativeInt, 0)
    .action(async (file: string, opts: { set: SweepAxis[]; out?: string; backend?: BackendName; workers: number }) => {
      // Every variant is checked before the first one runs.
      const name = loadScenario(file).name;
      for (const settings of combinations(opts.set)) loadScenario(file, { overrides: settingOverrides(settings) });
      const outDir = opts.out ?? join('runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-sweep-${name}`);
      mkdirSync(outDir, { recursive: true });
      const rows = await runSweep(
        file,
        opts.set,
        outDir,
        () => defaultLearningStack({ backend: opts.backend, workers: opts.workers }),
        (line) => process.stderr.write(`[fedmkt] ${line}\n`),
      );
      const table = sweepTable(rows, opts.set);
      process.stdout.write(`\n${formatTable(table)}\n\n`);
      writeFileSync(join(outDir, 'sweep.csv'), toCsv(table));
      writeFileSync(join(outDir, 'sweep.json'), `${JSON.stringify({ scenario: file, axes: opts.set, rows }, null, 2)}\n`);
      process.stdout.write(`table in ${join(outDir, 'sweep.csv')} and ${join(outDir, 'sweep.json')}; each variant's run in its folder there\n`);
      if (rows.some((r) => r.violations > 0)) process.exitCode = 1;
    });
}
