/**
 * Coverage as HTML: a row per state, a column per fault kind, how often that fault met an actor
 * in that state (core/explore/coverage.ts); empty cells stand out, so what a search never tried
 * is as visible as what it did.
 */
import { coverageRatio, possibleCells, type Coverage, type CoverageScope } from '../../core/explore/coverage.js';
import { FAULT_KINDS, type FaultKind } from '../../core/schedule/fault-space.js';
import { escapeXml } from '../../core/format.js';

export function coverageTable(cov: Coverage, kinds: readonly FaultKind[] = FAULT_KINDS, scope?: CoverageScope): string {
  const cells = possibleCells(kinds, scope);
  const states = cells.map((c) => c.state).filter((s, i, all) => all.indexOf(s) === i);
  const possible = new Set(cells.map((c) => `${c.state}|${c.kind}`));
  const max = Math.max(1, ...Object.values(cov.cells).flatMap((k) => Object.values(k) as number[]));
  const cell = (state: string, kind: FaultKind) => {
    if (!possible.has(`${state}|${kind}`)) return '<td class="na">–</td>';
    const n = cov.cells[state]?.[kind] ?? 0;
    if (n === 0) return '<td class="none">0</td>';
    // Shade by log count, so rare and common cells both read.
    const shade = (0.15 + (0.6 * Math.log1p(n)) / Math.log1p(max)).toFixed(2);
    return `<td style="background:rgba(30,136,229,${shade})">${n}</td>`;
  };
  const { hit, possible: all } = coverageRatio(cov, kinds, scope);
  return `<p>${hit} of ${all} (state × fault) cells exercised over ${cov.runs} run${cov.runs === 1 ? '' : 's'}.</p>
<table class="num coverage"><thead><tr><th>state</th>${kinds.map((k) => `<th>${escapeXml(k)}</th>`).join('')}</tr></thead><tbody>${states
    .map((s) => `<tr><th>${escapeXml(s)}</th>${kinds.map((k) => cell(s, k)).join('')}</tr>`)
    .join('')}</tbody></table>`;
}
