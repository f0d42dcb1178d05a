/**
 * `fedmkt report RUN_DIR`: one self-contained RUN_DIR/report.html from what a run left behind.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReport, type ReportOptions } from './html.js';
import { readRun } from './read-run.js';

export { accuracySeries, bytesPerRound, type AccuracySeries, type BytesRow } from './charts.js';
export { extractReportData, renderReport, type ReportData, type ReportOptions } from './html.js';
export { readRun, type RecordedEvent, type RunData } from './read-run.js';
export { syntheticRun, writeSyntheticRun, type SyntheticRun, type SyntheticRunOptions } from './synthetic.js';
export { buildTimeline, NON_FAULT_KINDS, type Timeline, type TimelineOptions } from './timeline.js';

/** Reads RUN_DIR's events.jsonl, metrics.jsonl and scenario.yaml; writes RUN_DIR/report.html and returns its path. */
export function writeReport(runDir: string, options: ReportOptions = {}): string {
  const run = readRun(runDir);
  const { html } = renderReport(run, options);
  const path = join(run.dir, 'report.html');
  writeFileSync(path, html);
  return path;
}
