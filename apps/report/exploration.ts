/**
 * `fedmkt report EXPLORE_DIR`: the report of an exploration (what `fedmkt explore` wrote):
 * how many schedules it tried, its coverage table, and each failure it found with its
 * reproducer, whose run gets its own report.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Coverage, CoverageScope } from '../../core/explore/coverage.js';
import type { FaultKind } from '../../core/schedule/fault-space.js';
import { coverageTable } from './coverage.js';
import { escapeXml } from '../../core/format.js';

interface Summary {
  scenario: string;
  strategy: string;
  maxFaults: number;
  seed: number;
  schedules: number;
  elapsedMs: number;
  schedulesPerSecond: number;
  meanAddedFaults: number;
  exhaustive: { states: number; schedules: number; pruned: number; exhausted: boolean; maxDepth: number } | null;
  coverage: { hit: number; possible: number; kinds: FaultKind[]; scope: CoverageScope };
  failures: {
    property: string;
    message: string;
    round: number | null;
    actors: string[];
    dir: string;
    faultsBefore: number;
    faultsAfter: number;
    readable: boolean;
    reproduce: string;
  }[];
}

export function isExplorationDir(dir: string): boolean {
  return existsSync(join(dir, 'summary.json')) && existsSync(join(dir, 'coverage.json')) && !existsSync(join(dir, 'events.jsonl'));
}

/** Writes DIR/report.html (and each failure's run report); returns its path. */
export function writeExplorationReport(dir: string, writeRunReport: (runDir: string) => string): string {
  const root = resolve(dir);
  const summary = JSON.parse(readFileSync(join(root, 'summary.json'), 'utf8')) as Summary;
  const coverage = JSON.parse(readFileSync(join(root, 'coverage.json'), 'utf8')) as Coverage;
  const failures = summary.failures.map((f, i) => {
    const runDir = join(resolve(f.dir), 'run');
    const report = existsSync(join(runDir, 'events.jsonl')) ? relative(root, writeRunReport(runDir)) : null;
    return `<li><strong>[${escapeXml(f.property)}]</strong> ${escapeXml(f.message)}${f.round !== null ? ` (round ${f.round})` : ''}<br>
${f.faultsBefore} faults → ${f.faultsAfter}${f.readable ? '' : ' (exact schedule only)'} · <code>${escapeXml(f.reproduce)}</code>
· <a href="${escapeXml(relative(root, join(resolve(f.dir), 'failure.md')))}">failure-${i + 1}/failure.md</a>${report ? ` · <a href="${escapeXml(report)}">its run</a>` : ''}</li>`;
  });
  const e = summary.exhaustive;
  const facts = [
    `scenario <code>${escapeXml(summary.scenario)}</code>, strategy ${escapeXml(summary.strategy)}, at most ${summary.maxFaults} added faults, explorer seed ${summary.seed}`,
    `${summary.schedules} schedules in ${(summary.elapsedMs / 1000).toFixed(1)} s (${summary.schedulesPerSecond.toFixed(0)} per second), ${summary.meanAddedFaults.toFixed(2)} added faults per schedule`,
    ...(e
      ? [
          `exhaustive: ${e.states} distinct states, ${e.schedules} schedules (${e.pruned} stopped at a state already seen); the space was ${e.exhausted ? '' : 'not '}exhausted`,
        ]
      : []),
    `${summary.failures.length} distinct failure${summary.failures.length === 1 ? '' : 's'}`,
  ];
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FedMKT exploration of ${escapeXml(summary.scenario)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px;max-width:1380px}table.num{border-collapse:collapse;font-size:12px}
table.num th,table.num td{border:1px solid #ddd;padding:2px 8px;text-align:right}table.num tbody th{text-align:left}
td.none{color:#c62828}td.na{color:#bbb}code{font-size:12px}</style></head>
<body><h1>Exploration of <code>${escapeXml(summary.scenario)}</code></h1>
<ul>${facts.map((f) => `<li>${f}</li>`).join('')}</ul>
<h2>Failures</h2>${failures.length ? `<ol>${failures.join('')}</ol>` : '<p>None within the budget.</p>'}
<h2>Coverage</h2><p>How often each kind of fault met an actor in each state, over every schedule (– : not possible in this scenario).</p>
${coverageTable(coverage, summary.coverage.kinds, summary.coverage.scope)}
</body></html>
`;
  const path = join(root, 'report.html');
  writeFileSync(path, html);
  return path;
}
