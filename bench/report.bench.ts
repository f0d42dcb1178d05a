/**
 * `fedmkt report` on a synthetic 1000-client, 10-round run (each client ~11 state changes,
 * 2 sends and 3 deliveries per round, with fedAvg and a few faults): generation seconds and
 * report size. Goals: under 5 s and under 5 MB.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport } from '../apps/report/index.js';
import { writeSyntheticRun } from '../apps/report/synthetic.js';
import { timeIt, type Benchmark, type Figure } from './harness.js';

const CLIENTS = 1000;
const ROUNDS = 10;

const benchmarks: Benchmark[] = [
  {
    name: 'report-1000x10',
    async run(): Promise<Figure[]> {
      const dir = mkdtempSync(join(tmpdir(), 'fedmkt-report-bench-'));
      try {
        const run = writeSyntheticRun(dir, { clients: CLIENTS, rounds: ROUNDS, fedAvg: true, faults: true, seed: 1 });
        const eventsBytes = statSync(join(dir, 'events.jsonl')).size;
        const seconds = await timeIt(() => writeReport(dir), 3);
        const bytes = statSync(join(dir, 'report.html')).size;
        const detail = { clients: CLIENTS, rounds: ROUNDS, events: run.events.length, eventsMB: Math.round(eventsBytes / 1e4) / 100 };
        return [
          { name: 'report-1000x10 generation', value: Math.round(seconds * 1000) / 1000, unit: 's', goal: '< 5 s', ...detail },
          { name: 'report-1000x10 size', value: Math.round((bytes / 1e6) * 100) / 100, unit: 'MB', goal: '< 5 MB', bytes, ...detail },
        ];
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];

export default benchmarks;
