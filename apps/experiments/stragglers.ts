/**
 * `fedmkt experiment stragglers`: the synchronous round against buffered and asynchronous FedMKT
 * (docs/async.md) for the same clients, data and heavy-tailed straggler profile. Per seed the
 * sync run comes first: its final server accuracy is the target, and the time it took is the
 * other modes' budget; they may publish as many versions as distil the same number of uploads.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadFederationData } from '../../actors/federation-data.js';
import { runFederation, type LearningStack } from '../../actors/federation.js';
import type { RunEvent, RoundMetrics } from '../../core/records.js';
import { ScenarioSchema, type Scenario } from '../../core/scenario/schema.js';
import { stat } from './table.js';

export type ProtocolMode = 'sync' | 'buffered' | 'async';
export const PROTOCOL_MODES: readonly ProtocolMode[] = ['sync', 'buffered', 'async'];

export interface StragglersOptions {
  /** The synchronous scenario (scenarios/stragglers-async.yaml): clients, data, straggler profile. */
  base: Scenario;
  modes: readonly ProtocolMode[];
  seeds: readonly number[];
  /** Buffered mode's buffer (default: half the clients). */
  bufferSize?: number;
  learning: LearningStack;
  outDir: string;
  log?: (line: string) => void;
}

/** Server accuracy after each version, at the virtual time it was published. */
interface CurvePoint {
  version: number;
  seconds: number;
  accuracy: number;
}

export interface ModeRun {
  mode: ProtocolMode;
  seed: number;
  curve: CurvePoint[];
  /** The sync run's final server accuracy for this seed. */
  target: number;
  /** First virtual second the server reached the target; null: never within the budget. */
  secondsToTarget: number | null;
  finalAccuracy: number;
  /** Mean over clients of each one's last measured accuracy. */
  finalClientAccuracy: number;
  versions: number;
  virtualSeconds: number;
  bytes: number;
  /** Uploads the server used, by staleness (versions behind). */
  staleness: Record<string, number>;
  failures: number;
  violations: number;
}

/** The scenario of `mode` for one seed: sync as given; the others with the sync run's time as budget. */
export function modeScenario(base: Scenario, mode: ProtocolMode, seed: number, budgetMs: number | null, bufferSize?: number): Scenario {
  const doc = structuredClone(base) as Scenario;
  doc.seed = seed;
  doc.protocol.mode = mode;
  const n = doc.clients.length;
  if (mode !== 'sync') {
    const buffer = mode === 'async' ? 1 : (bufferSize ?? Math.max(1, Math.floor(n / 2)));
    if (mode === 'buffered') doc.protocol.bufferSize = buffer;
    // As many versions as distil the sync run's uploads: the budget, not the count, should end the run.
    doc.rounds = base.rounds * Math.ceil(n / buffer);
    if (budgetMs !== null) doc.protocol.timeBudgetMs = budgetMs;
  }
  return ScenarioSchema.parse(doc);
}

function summariseRun(
  mode: ProtocolMode,
  seed: number,
  events: readonly RunEvent[],
  metrics: readonly RoundMetrics[],
  target: number | null,
): Omit<ModeRun, 'failures' | 'violations'> {
  const published = new Map<number, number>();
  for (const e of events) if (e.actor === 'server' && e.kind === 'state' && e.state === 'roundEnd' && !published.has(e.round)) published.set(e.round, e.t);
  const curve: CurvePoint[] = metrics
    .filter((m) => m.role === 'server' && typeof m.accuracy === 'number')
    .map((m) => ({ version: m.round, seconds: (m.round === 0 ? 0 : (published.get(m.round) ?? 0)) / 1000, accuracy: m.accuracy as number }));
  const finalAccuracy = curve[curve.length - 1]?.accuracy ?? Number.NaN;
  const goal = target ?? finalAccuracy;
  const lastOf = new Map<string, number>();
  for (const m of metrics) if (m.role === 'client' && typeof m.accuracy === 'number') lastOf.set(m.actor, m.accuracy);
  const staleness: Record<string, number> = {};
  for (const e of events) if (e.kind === 'used') staleness[String(e.staleness)] = (staleness[String(e.staleness)] ?? 0) + 1;
  const end = events.filter((e) => e.actor === 'server' && e.kind === 'state' && e.state === 'done')[0]?.t ?? events[events.length - 1]?.t ?? 0;
  return {
    mode,
    seed,
    curve,
    target: goal,
    secondsToTarget: curve.find((p) => p.accuracy >= goal - 1e-9 && p.version > 0)?.seconds ?? null,
    finalAccuracy,
    finalClientAccuracy: mean([...lastOf.values()]),
    versions: curve.length - 1,
    virtualSeconds: end / 1000,
    bytes: events.reduce((s, e) => s + (e.kind === 'send' ? Number(e.bytes) || 0 : 0), 0),
    staleness,
  };
}

export async function runStragglers(options: StragglersOptions): Promise<ModeRun[]> {
  const { base, learning, log } = options;
  const runs: ModeRun[] = [];
  mkdirSync(options.outDir, { recursive: true });
  for (const seed of options.seeds) {
    const data = await loadFederationData(modeScenario(base, 'sync', seed, null));
    let target: number | null = null;
    let budgetMs: number | null = null;
    // Sync always runs: it sets the target and the budget even when its row is not asked for.
    const order: ProtocolMode[] = ['sync', ...options.modes.filter((m) => m !== 'sync')];
    for (const mode of order) {
      const scenario = modeScenario(base, mode, seed, budgetMs, options.bufferSize);
      const outDir = join(options.outDir, `${mode}-seed${seed}`);
      mkdirSync(outDir, { recursive: true });
      log?.(
        `${mode}, seed ${seed}: ${scenario.rounds} ${mode === 'sync' ? 'rounds' : `versions at most, budget ${((budgetMs ?? 0) / 1000).toFixed(1)} virtual s`}`,
      );
      const result = await runFederation(scenario, { learning, data, outDir });
      const summary = summariseRun(mode, seed, result.recorder.events, result.recorder.metrics, target);
      if (mode === 'sync') {
        target = summary.finalAccuracy;
        budgetMs = Math.ceil(summary.virtualSeconds * 1000);
      }
      const run = { ...summary, failures: Object.keys(result.failures).length, violations: result.violations.length };
      log?.(
        `${mode}, seed ${seed}: server ${run.finalAccuracy.toFixed(3)} after ${run.versions} versions, ${run.virtualSeconds.toFixed(1)} virtual s; target ${run.target.toFixed(3)} at ${run.secondsToTarget?.toFixed(1) ?? 'never'}`,
      );
      if (options.modes.includes(mode)) runs.push(run);
    }
  }
  return runs;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

/** Mean time to target per mode over the seeds that reached it, as a ratio to sync's (seed by seed). */
export function ratiosToSync(runs: readonly ModeRun[]): Record<ProtocolMode, number | null> {
  const out = {} as Record<ProtocolMode, number | null>;
  for (const mode of PROTOCOL_MODES) {
    const ratios = runs
      .filter((r) => r.mode === mode)
      .map((r) => {
        const sync = runs.find((s) => s.mode === 'sync' && s.seed === r.seed);
        return sync?.secondsToTarget && r.secondsToTarget !== null ? r.secondsToTarget / sync.secondsToTarget : null;
      });
    const reached = ratios.filter((x): x is number => x !== null);
    out[mode] = reached.length === ratios.length && reached.length > 0 ? mean(reached) : null;
  }
  return out;
}

export function renderStragglersMarkdown(runs: readonly ModeRun[], command: string): string {
  const fmt = (s: ReturnType<typeof stat>, digits = 3) => (s ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : '—');
  const ratios = ratiosToSync(runs);
  const lines = [
    `Command: \`${command}\``,
    '',
    '| mode | seeds | server acc (end) | client acc (end) | LLM versions | virtual s | s to target (reached) | ratio to sync | bytes (MiB) | staleness of uploads used |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const mode of PROTOCOL_MODES) {
    const rs = runs.filter((r) => r.mode === mode);
    if (rs.length === 0) continue;
    const reached = rs.filter((r) => r.secondsToTarget !== null).map((r) => r.secondsToTarget as number);
    const hist: Record<string, number> = {};
    for (const r of rs) for (const [k, v] of Object.entries(r.staleness)) hist[k] = (hist[k] ?? 0) + v;
    const total = Object.values(hist).reduce((a, b) => a + b, 0);
    const histText = Object.entries(hist)
      .sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([k, v]) => `${k}: ${((100 * v) / total).toFixed(0)}%`)
      .join(', ');
    lines.push(
      `| ${mode} | ${rs.map((r) => r.seed).join(', ')} | ${fmt(stat(rs.map((r) => r.finalAccuracy)))} | ${fmt(stat(rs.map((r) => r.finalClientAccuracy)))} | ${fmt(stat(rs.map((r) => r.versions)), 1)} | ${fmt(stat(rs.map((r) => r.virtualSeconds)), 1)} | ${reached.length ? `${mean(reached).toFixed(1)} (${reached.length}/${rs.length})` : `— (0/${rs.length})`} | ${ratios[mode]?.toFixed(2) ?? '—'} | ${(mean(rs.map((r) => r.bytes)) / 2 ** 20).toFixed(2)} | ${histText || '—'} |`,
    );
  }
  return lines.join('\n');
}

function renderStragglersCsv(runs: readonly ModeRun[]): string {
  const header = 'mode,seed,target,seconds_to_target,final_server_accuracy,final_client_accuracy,versions,virtual_seconds,bytes,staleness,failures,violations';
  const rows = runs.map((r) =>
    [
      r.mode,
      r.seed,
      r.target,
      r.secondsToTarget ?? '',
      r.finalAccuracy,
      r.finalClientAccuracy,
      r.versions,
      r.virtualSeconds,
      r.bytes,
      JSON.stringify(r.staleness).replace(/,/g, ';'),
      r.failures,
      r.violations,
    ].join(','),
  );
  return `${[header, ...rows].join('\n')}\n`;
}

/** Write table.md, table.csv, runs.json and accuracy-time.svg into `dir`, with `name` as prefix when publishing. */
export function writeStragglersResults(dir: string, name: string, runs: readonly ModeRun[], markdown: string, svg: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.md`), `${markdown}\n`);
  writeFileSync(join(dir, `${name}.csv`), renderStragglersCsv(runs));
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(runs, null, 1)}\n`);
  writeFileSync(join(dir, `${name}.svg`), svg);
}
