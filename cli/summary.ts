import type { RunResult } from '../actors/federation.js';
import type { RoundMetrics } from '../core/records.js';
import { formatBytes, naturalCompare } from '../core/format.js';
import { formatViolation } from '../core/invariants/check.js';
import { templateLabel } from '../core/population/templates.js';
import { plural } from '../core/wording.js';
import { clockLabel, type ClockKind } from '../core/run-clock.js';

/** Above this many clients a table shows them together (a population), not a column each. */
const AGGREGATE_ABOVE = 12;

/** Per-round table: one row per round, accuracy of each actor, bytes, seconds the round took on the run's clock. */
export function roundSummaryTable(metrics: readonly RoundMetrics[], clock: ClockKind = 'virtual'): string {
  const actors = [...new Set(metrics.map((m) => m.actor))].sort((a, b) => (a === 'server' ? -1 : b === 'server' ? 1 : naturalCompare(a, b)));
  if (actors.length > AGGREGATE_ABOVE + 1) return populationTable(metrics, clock);
  const rounds = [...new Set(metrics.map((m) => m.round))].sort((a, b) => a - b);
  const header = ['round', ...actors.map((a) => `acc ${a}`), 'bytes up', 'bytes down', `${clockLabel(clock)} s`];
  const rows = rounds.map((r) => {
    const ms = metrics.filter((m) => m.round === r);
    const acc = actors.map((a) => {
      const v = ms.find((m) => m.actor === a)?.accuracy;
      return v === null || v === undefined ? '-' : v.toFixed(3);
    });
    // Bytes as the clients count them (up: toward the server); a process running the server
    // alone counts them on its side (what it received, what it sent).
    const clients = ms.filter((m) => m.role === 'client');
    const server = ms.find((m) => m.role === 'server');
    const up = clients.length > 0 ? clients.reduce((s, m) => s + m.bytesUp, 0) : (server?.bytesDown ?? 0);
    const down = clients.length > 0 ? clients.reduce((s, m) => s + m.bytesDown, 0) : (server?.bytesUp ?? 0);
    const vs = ms.find((m) => m.role === 'server')?.virtualSeconds ?? Math.max(...ms.map((m) => m.virtualSeconds));
    return [r === 0 ? '0 (zero-shot)' : String(r), ...acc, formatBytes(up, { columns: true }), formatBytes(down, { columns: true }), vs.toFixed(1)];
  });
  return formatTable(header, rows);
}

function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * A population's rounds: the server's accuracy, the mean over the clients measured that round,
 * and what the server saw of its selection (announced, uploads taken, stragglers, dropouts,
 * virtual seconds from the announcement to the quorum).
 */
function populationTable(metrics: readonly RoundMetrics[], clock: ClockKind): string {
  const rounds = [...new Set(metrics.map((m) => m.round))].sort((a, b) => a - b);
  // Clients' accuracy by the template they drew, when there are several.
  const templates = [...new Set(metrics.filter((m) => m.role === 'client' && typeof m.template === 'number').map((m) => m.template as number))].sort(
    (a, b) => a - b,
  );
  const byTemplate = templates.length > 1 ? templates : [];
  const header = [
    'round',
    'acc server',
    'acc clients',
    ...byTemplate.map((t) => `acc ${templateLabel(t)}`),
    'measured',
    'announced',
    'uploads',
    'stragglers',
    'dropouts',
    'to quorum s',
    'bytes up',
    'bytes down',
    `${clockLabel(clock)} s`,
  ];
  const figure = (v: unknown, digits = 0) => (typeof v === 'number' ? v.toFixed(digits) : '-');
  const rows = rounds.map((r) => {
    const ms = metrics.filter((m) => m.round === r);
    const server = ms.find((m) => m.role === 'server');
    const measured = ms.filter((m) => m.role === 'client' && typeof m.accuracy === 'number');
    const mean = (rows: readonly RoundMetrics[]) => (rows.length > 0 ? rows.reduce((s, m) => s + (m.accuracy as number), 0) / rows.length : null);
    return [
      r === 0 ? '0 (zero-shot)' : String(r),
      figure(server?.accuracy, 3),
      figure(mean(measured), 3),
      ...byTemplate.map((t) => figure(mean(measured.filter((m) => m.template === t)), 3)),
      String(measured.length),
      figure(server?.announced),
      figure(server?.uploads),
      figure(server?.stragglers ?? (r > 0 && server?.uploads !== undefined ? 0 : undefined)),
      figure(server?.dropouts),
      figure(server?.timeToQuorumS, 1),
      formatBytes(server?.bytesDown ?? 0, { columns: true }),
      formatBytes(server?.bytesUp ?? 0, { columns: true }),
      figure(server?.virtualSeconds, 1),
    ];
  });
  return formatTable(header, rows);
}

/**
 * What `run` prints when the run is over (stdout): the table, every actor's final state, its
 * failures, the times and any invariant violation; sets a failing exit status. Returns the time line.
 */
export function printRunOutcome(result: RunResult, outDir: string, clock: ClockKind, write: (text: string) => void = (t) => process.stdout.write(t)): string {
  write(`\n${roundSummaryTable(result.recorder.metrics, clock)}\n\n`);
  const population = result.recorder.events.find((e) => e.kind === 'population');
  if (population) {
    const kinds = Array.isArray(population.templates) ? (population.templates as unknown[]) : [];
    write(
      `population: ${population.count} clients, ${population.announced} announced per round for ${population.perRound} uploads (${population.strategy}); ` +
        `shards of ${population.shardSize} drawn from ${population.poolSize} examples${population.shardsOverlap ? ': more clients than the data, so shards share examples' : ''}\n`,
    );
    if (kinds.length > 1) write(`templates: ${kinds.map((k, i) => `${templateLabel(i)} (${String(k)})`).join(', ')}\n`);
  }
  write(
    `final states: ${Object.entries(result.finalStates)
      .map(([id, s]) => `${id}=${s}`)
      .join(' ')}\n`,
  );
  if (result.timedOut) write('the run never ended: it was cut off at its limit of virtual time\n');
  for (const [id, why] of Object.entries(result.failures))
    write(`  ${id} ${result.timedOut && why.startsWith('still in') ? 'did not end' : 'failed'}: ${why}\n`);
  const times =
    clock === 'wall'
      ? `wall-clock time ${result.wallSeconds.toFixed(1)} s`
      : `virtual time ${(result.virtualMs / 1000).toFixed(1)} s, wall time ${result.wallSeconds.toFixed(1)} s`;
  write(`${times}; outputs in ${outDir}\n`);
  if (result.violations.length > 0) {
    write(`\n${plural(result.violations.length, 'protocol invariant violation')}:\n`);
    for (const v of result.violations) write(`${formatViolation(v)}\n`);
  }
  if (Object.keys(result.failures).length > 0 || result.violations.length > 0 || result.timedOut) process.exitCode = 1;
  return times;
}
