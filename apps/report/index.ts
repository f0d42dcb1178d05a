/**
 * `fedmkt report RUN_DIR`: one self-contained RUN_DIR/report.html from what a run left behind.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReport, type ReportOptions } from './html.js';
import { readRun } from './read-run.js';

export { extractReportData, renderReport, type ReportOptions } from './html.js';
export { readRun, type RecordedEvent } from './read-run.js';

/** Reads RUN_DIR's events.jsonl, metrics.jsonl and scenario.yaml; writes RUN_DIR/report.html and returns its path. */
export function writeReport(runDir: string, options: ReportOptions = {}): string {
  const run = readRun(runDir);
  const { html } = renderReport(run, options);
  const path = join(run.dir, 'report.html');
  writeFileSync(path, html);
  return path;
}
