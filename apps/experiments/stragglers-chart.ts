/** Server accuracy against virtual time, one step line per mode and seed (the report's SVG helpers). */
import { escapeXml as esc } from '../../core/format.js';
import { n1, seriesColour, ticks } from '../report/svg.js';
import { PROTOCOL_MODES, type ModeRun } from './stragglers.js';

const W = 900;
const H = 380;
const M = { l: 64, r: 150, t: 28, b: 44 };

export function accuracyTimeChart(runs: readonly ModeRun[], title: string): string {
  const points = runs.flatMap((r) => r.curve);
  const t1 = Math.max(1, ...points.map((p) => p.seconds), ...runs.map((r) => r.virtualSeconds));
  const lo = Math.max(0, Math.floor(Math.min(...points.map((p) => p.accuracy)) * 20) / 20);
  const hi = Math.min(1, Math.ceil(Math.max(...points.map((p) => p.accuracy)) * 20) / 20 + 0.05);
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const x = (s: number) => M.l + (s / t1) * pw;
  const y = (v: number) => M.t + ph - ((v - lo) / (hi - lo || 1)) * ph;
  const out: string[] = [`<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="#fff" stroke="#cfd8dc"/>`];
  for (const v of ticks(lo, hi, 6)) {
    out.push(`<line x1="${M.l}" x2="${M.l + pw}" y1="${n1(y(v))}" y2="${n1(y(v))}" stroke="#eceff1"/>`);
    out.push(`<text x="${M.l - 6}" y="${n1(y(v) + 4)}" text-anchor="end" font-size="11">${Math.round(v * 1000) / 1000}</text>`);
  }
  for (const s of ticks(0, t1, 8)) out.push(`<text x="${n1(x(s))}" y="${H - M.b + 16}" text-anchor="middle" font-size="11">${s}</text>`);
  out.push(`<text x="${M.l + pw / 2}" y="${H - 8}" text-anchor="middle" font-size="12">virtual seconds</text>`);
  out.push(`<text transform="translate(16 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">server accuracy</text>`);
  out.push(`<text x="${M.l}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  PROTOCOL_MODES.forEach((mode, i) => {
    const colour = seriesColour(i);
    const mine = runs.filter((r) => r.mode === mode);
    if (mine.length === 0) return;
    for (const r of mine) {
      // A version's accuracy holds until the next is published, and to the end of the run.
      const steps = r.curve.flatMap((p, j) => {
        const next = r.curve[j + 1]?.seconds ?? r.virtualSeconds;
        return [`${j ? 'L' : 'M'}${n1(x(p.seconds))} ${n1(y(p.accuracy))}`, `L${n1(x(next))} ${n1(y(p.accuracy))}`];
      });
      out.push(
        `<path d="${steps.join(' ')}" fill="none" stroke="${colour}" stroke-width="1.8" stroke-opacity="0.8"><title>${esc(`${mode}, seed ${r.seed}`)}</title></path>`,
      );
      if (r.secondsToTarget !== null)
        out.push(
          `<circle cx="${n1(x(r.secondsToTarget))}" cy="${n1(y(r.target))}" r="4" fill="${colour}"><title>${esc(`${mode}, seed ${r.seed}: target ${r.target} at ${r.secondsToTarget} s`)}</title></circle>`,
        );
    }
    const ly = M.t + 16 + 20 * i;
    out.push(`<line x1="${W - M.r + 12}" x2="${W - M.r + 36}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`);
    out.push(`<text x="${W - M.r + 42}" y="${ly + 4}" font-size="12">${esc(`${mode} (${mine.length} seeds)`)}</text>`);
  });
  out.push(`<text x="${W - M.r + 12}" y="${M.t + 90}" font-size="11">dot: sync's final</text>`);
  out.push(`<text x="${W - M.r + 12}" y="${M.t + 104}" font-size="11">accuracy reached</text>`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="'DejaVu Sans', Verdana, Arial, sans-serif">${out.join('')}</svg>\n`;
}
