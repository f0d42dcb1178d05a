/**
 * Per-round charts of a report: accuracy of every model (one line per actor, the server
 * highlighted, baselines dashed; many clients become a band, a population's one line per template) and bytes each way.
 */
import type { RoundMetrics } from '../../core/records.js';
import { escapeXml, formatBytes, naturalCompare } from '../../core/format.js';
import { templateLabel } from '../../core/population/templates.js';
import { n1, seriesColour, ticks } from './svg.js';

export interface AccuracySeries {
  key: string;
  label: string;
  actor: string;
  role: string;
  baseline: string | null;
  model: string | null;
  /** [round, accuracy] for every round with a number. */
  points: [number, number][];
}

export interface BytesRow {
  round: number;
  /** Clients to server: the clients' bytesUp summed (the server's bytesDown when there are no client rows). */
  up: number;
  /** Server to clients: the clients' bytesDown summed (the server's bytesUp when there are no client rows). */
  down: number;
  serverSent: number;
  serverReceived: number;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export function accuracySeries(metrics: readonly RoundMetrics[]): AccuracySeries[] {
  const byKey = new Map<string, AccuracySeries>();
  const templated = (m: RoundMetrics) => m.role === 'client' && typeof m.template === 'number' && !str(m.baseline);
  for (const m of metrics) {
    if (templated(m)) continue;
    const baseline = str(m.baseline);
    const model = str(m.model);
    const key = baseline ? `baseline:${baseline}:${m.actor}` : model ? `${m.actor}:${model}` : m.actor;
    let s = byKey.get(key);
    if (!s) {
      const label = baseline ? `${baseline} (${m.actor})` : model ? `${m.actor} (${model})` : m.actor;
      s = { key, label, actor: m.actor, role: m.role, baseline, model, points: [] };
      byKey.set(key, s);
    }
    if (typeof m.accuracy === 'number' && Number.isFinite(m.accuracy)) s.points.push([m.round, m.accuracy]);
  }
  const rank = (s: AccuracySeries) => (s.baseline ? 2 : s.role === 'server' ? 0 : 1);
  const out = [...byKey.values(), ...templateSeries(metrics.filter(templated))];
  for (const s of out) s.points.sort((a, b) => a[0] - b[0]);
  return out.sort((a, b) => rank(a) - rank(b) || naturalCompare(a.label, b.label));
}

/**
 * A population's clients by the template they drew: each round's mean over the clients measured
 * after it (a different sample every round, so a line per client would say nothing).
 */
function templateSeries(rows: readonly RoundMetrics[]): AccuracySeries[] {
  const sums = new Map<number, Map<number, { total: number; n: number }>>();
  for (const m of rows) {
    if (typeof m.accuracy !== 'number' || !Number.isFinite(m.accuracy)) continue;
    const template = m.template as number;
    let byRound = sums.get(template);
    if (!byRound) sums.set(template, (byRound = new Map()));
    const cell = byRound.get(m.round) ?? { total: 0, n: 0 };
    cell.total += m.accuracy;
    cell.n++;
    byRound.set(m.round, cell);
  }
  return [...sums].map(([template, byRound]) => ({
    key: `template:${template}`,
    label: `${templateLabel(template)} clients (mean of those measured)`,
    actor: templateLabel(template),
    role: 'client',
    baseline: null,
    model: null,
    points: [...byRound].map(([round, { total, n }]): [number, number] => [round, total / n]),
  }));
}

export function bytesPerRound(metrics: readonly RoundMetrics[]): BytesRow[] {
  const rows = new Map<number, BytesRow & { clients: number }>();
  for (const m of metrics) {
    if (str(m.baseline)) continue;
    let r = rows.get(m.round);
    if (!r) {
      r = { round: m.round, up: 0, down: 0, serverSent: 0, serverReceived: 0, clients: 0 };
      rows.set(m.round, r);
    }
    const up = Number(m.bytesUp) || 0;
    const down = Number(m.bytesDown) || 0;
    if (m.role === 'server') {
      r.serverSent += up;
      r.serverReceived += down;
    } else {
      r.up += up;
      r.down += down;
      r.clients++;
    }
  }
  return [...rows.values()]
    .sort((a, b) => a.round - b.round)
    .map(({ clients, ...r }) => (clients > 0 ? r : { ...r, up: r.serverReceived, down: r.serverSent }));
}

const W = 900;
const H = 320;
const M = { l: 64, r: 20, t: 16, b: 40 };

interface Frame {
  x: (round: number) => number;
  y: (v: number) => number;
  svg: string[];
}

function frame(rounds: number[], lo: number, hi: number, yLabel: string, yFormat: (v: number) => string, height = H, xTicks = true, yUnit = 1): Frame {
  const r0 = Math.min(...rounds);
  const r1 = Math.max(...rounds);
  const pw = W - M.l - M.r;
  const ph = height - M.t - M.b;
  const x = (r: number) => M.l + (r1 === r0 ? pw / 2 : ((r - r0) / (r1 - r0)) * pw);
  const y = (v: number) => M.t + ph - (hi === lo ? ph / 2 : ((v - lo) / (hi - lo)) * ph);
  const svg: string[] = [];
  svg.push(`<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="#fff" stroke="#cfd8dc"/>`);
  for (const v of ticks(lo / yUnit, hi / yUnit, 5).map((t) => t * yUnit)) {
    svg.push(`<line x1="${M.l}" x2="${M.l + pw}" y1="${n1(y(v))}" y2="${n1(y(v))}" stroke="#eceff1"/>`);
    svg.push(`<text x="${M.l - 6}" y="${n1(y(v) + 4)}" text-anchor="end" class="tick">${escapeXml(yFormat(v))}</text>`);
  }
  const roundTicks = !xTicks ? [] : r1 - r0 <= 30 ? rounds : ticks(r0, r1, 10);
  for (const r of roundTicks) svg.push(`<text x="${n1(x(r))}" y="${height - M.b + 16}" text-anchor="middle" class="tick">${r}</text>`);
  svg.push(`<text x="${M.l + pw / 2}" y="${height - 6}" text-anchor="middle" class="axis">round</text>`);
  svg.push(`<text transform="translate(14 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle" class="axis">${escapeXml(yLabel)}</text>`);
  return { x, y, svg };
}

export interface AccuracyChart {
  svg: string;
  /** HTML legend items. */
  legend: string;
  aggregated: boolean;
}

/** Accuracy per round; with more than `maxSeries` client lines the clients become mean, IQR and min-max bands. */
export function accuracyChart(series: readonly AccuracySeries[], maxSeries = 40): AccuracyChart {
  const withPoints = series.filter((s) => s.points.length > 0);
  if (withPoints.length === 0) return { svg: '<p class="empty">No accuracy figures in metrics.jsonl.</p>', legend: '', aggregated: false };
  const rounds = [...new Set(withPoints.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const values = withPoints.flatMap((s) => s.points.map((p) => p[1]));
  let lo = Math.floor(Math.min(...values) * 10) / 10;
  let hi = Math.ceil(Math.max(...values) * 10) / 10;
  if (Math.min(...values) >= 0 && Math.max(...values) <= 1) {
    lo = Math.max(0, lo);
    hi = Math.min(1, Math.max(hi, lo + 0.1));
  }
  if (hi === lo) hi = lo + 1;
  const f = frame(rounds, lo, hi, 'accuracy', (v) => String(Math.round(v * 1000) / 1000));
  const legend: string[] = [];
  const line = (pts: [number, number][], colour: string, width: number, dash: string, title: string, cls: string, dots: boolean) => {
    if (pts.length === 0) return;
    const d = pts.map(([r, v], i) => `${i ? 'L' : 'M'}${n1(f.x(r))} ${n1(f.y(v))}`).join(' ');
    f.svg.push(
      `<path class="${cls}" d="${d}" fill="none" stroke="${colour}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''}><title>${escapeXml(title)}</title></path>`,
    );
    if (dots)
      for (const [r, v] of pts)
        f.svg.push(
          `<circle cx="${n1(f.x(r))}" cy="${n1(f.y(v))}" r="${width + 1}" fill="${colour}"><title>${escapeXml(`${title}, round ${r}: ${v}`)}</title></circle>`,
        );
  };
  const swatch = (colour: string, label: string, dash = false, band = false) =>
    `<li><span class="sw${dash ? ' dash' : ''}${band ? ' band' : ''}" style="${band ? 'background' : 'border-color'}:${colour}"></span>${escapeXml(label)}</li>`;

  const server = withPoints.filter((s) => s.role === 'server' && !s.baseline);
  const clients = withPoints.filter((s) => s.role !== 'server' && !s.baseline);
  const baselines = withPoints.filter((s) => s.baseline);
  const aggregated = clients.length > maxSeries || baselines.length > maxSeries;

  if (!aggregated) {
    clients.forEach((s, i) => {
      const c = seriesColour(i);
      line(s.points, c, 1.5, '', s.label, 'series client', true);
      legend.push(swatch(c, s.label));
    });
  } else {
    // Bands over the clients per round: min-max, interquartile range, and the mean.
    const stats = rounds
      .map((r) => {
        const vs = clients.flatMap((s) => s.points.filter((p) => p[0] === r).map((p) => p[1])).sort((a, b) => a - b);
        if (vs.length === 0) return null;
        const q = (p: number) => vs[Math.min(vs.length - 1, Math.floor(p * (vs.length - 1)))]!;
        return { r, min: vs[0]!, q1: q(0.25), q3: q(0.75), max: vs[vs.length - 1]!, mean: vs.reduce((a, b) => a + b, 0) / vs.length, n: vs.length };
      })
      .filter((s): s is NonNullable<typeof s> => s !== null);
    const band = (loK: 'min' | 'q1', hiK: 'max' | 'q3', colour: string, title: string) => {
      const top = stats.map((s, i) => `${i ? 'L' : 'M'}${n1(f.x(s.r))} ${n1(f.y(s[hiK]))}`).join(' ');
      const bottom = [...stats]
        .reverse()
        .map((s) => `L${n1(f.x(s.r))} ${n1(f.y(s[loK]))}`)
        .join(' ');
      f.svg.push(`<path d="${top} ${bottom} Z" fill="${colour}" stroke="none"><title>${escapeXml(title)}</title></path>`);
    };
    band('min', 'max', '#dbe9f6', `clients (${clients.length}): min to max`);
    band('q1', 'q3', '#a9cbe8', `clients (${clients.length}): interquartile range`);
    line(
      stats.map((s) => [s.r, s.mean]),
      '#1f77b4',
      2,
      '',
      `client mean (${clients.length} clients)`,
      'series client-mean',
      true,
    );
    legend.push(swatch('#dbe9f6', `clients min-max (${clients.length})`, false, true));
    legend.push(swatch('#a9cbe8', 'clients interquartile', false, true));
    legend.push(swatch('#1f77b4', 'client mean'));
  }
  // Baselines: dashed; grouped by name into one mean line when there are many.
  if (baselines.length > maxSeries) {
    const names = [...new Set(baselines.map((s) => s.baseline!))];
    names.forEach((name, i) => {
      const members = baselines.filter((s) => s.baseline === name);
      const pts = rounds
        .map((r): [number, number] | null => {
          const vs = members.flatMap((s) => s.points.filter((p) => p[0] === r).map((p) => p[1]));
          return vs.length ? [r, vs.reduce((a, b) => a + b, 0) / vs.length] : null;
        })
        .filter((p): p is [number, number] => p !== null);
      const c = seriesColour(i + 3);
      line(pts, c, 1.5, '6 4', `baseline ${name} (mean of ${members.length})`, 'series baseline', false);
      legend.push(swatch(c, `baseline ${name} (mean of ${members.length})`, true));
    });
  } else {
    baselines.forEach((s, i) => {
      const c = seriesColour(i + 3);
      line(s.points, c, 1.5, '6 4', `baseline ${s.label}`, 'series baseline', true);
      legend.push(swatch(c, `baseline ${s.label}`, true));
    });
  }
  // The server last, on top.
  for (const s of server) {
    line(s.points, '#111111', 3.2, '', `${s.label} (server)`, 'series server', true);
    legend.unshift(swatch('#111111', `${s.label} (server)`));
  }
  return {
    svg: `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="accuracy per round">${f.svg.join('')}</svg>`,
    legend: `<ul class="legend">${legend.join('')}</ul>`,
    aggregated,
  };
}

export function bytesChart(rows: readonly BytesRow[]): string {
  if (rows.length === 0) return '<p class="empty">No byte counts in metrics.jsonl.</p>';
  const height = 280;
  const max = Math.max(1, ...rows.flatMap((r) => [r.up, r.down]));
  const rounds = rows.map((r) => r.round);
  // Ticks on whole numbers of the unit that fits the largest bar.
  const units: [number, string][] = [
    [1024 ** 3, 'GiB'],
    [1024 ** 2, 'MiB'],
    [1024, 'KiB'],
    [1, 'B'],
  ];
  const [unit, unitName] = units.find(([u]) => max >= u) ?? [1, 'B'];
  const steps = ticks(0, max / unit, 5);
  const top = Math.max(max, (steps[steps.length - 1] ?? 0) * unit);
  const hi = top > max ? top : max * 1.05;
  const f = frame(rounds, 0, hi, `bytes (${unitName})`, (v) => String(Math.round((v / unit) * 100) / 100), height, false, unit);
  const pw = W - M.l - M.r;
  const slot = pw / Math.max(rows.length, 1);
  const bw = Math.max(2, Math.min(28, slot * 0.35));
  // Bars are centred on their own slots rather than on the line chart's round positions.
  const x0 = (i: number) => M.l + slot * (i + 0.5);
  const out = f.svg;
  rows.forEach((r, i) => {
    const cx = x0(i);
    out.push(`<text x="${n1(cx)}" y="${height - M.b + 16}" text-anchor="middle" class="tick">${r.round}</text>`);
    for (const [k, v, colour, dx] of [
      ['up', r.up, '#1e88e5', -bw],
      ['down', r.down, '#2e7d32', 0],
    ] as const) {
      const y = f.y(v);
      out.push(
        `<rect class="bar ${k}" x="${n1(cx + dx)}" y="${n1(y)}" width="${n1(bw)}" height="${n1(f.y(0) - y)}" fill="${colour}"><title>round ${r.round} ${k === 'up' ? 'clients → server' : 'server → clients'}: ${formatBytes(v)} (${v} bytes)</title></rect>`,
      );
    }
  });
  return `<svg class="chart" viewBox="0 0 ${W} ${height}" role="img" aria-label="bytes per round">${out.join('')}</svg>`;
}
