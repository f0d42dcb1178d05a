/**
 * Asynchrony under stragglers (docs/async.md): virtual time for each protocol mode to reach the
 * synchronous run's final server accuracy, under scenarios/stragglers-async.yaml's heavy-tailed
 * profile, as a ratio to sync's own time to it (goal: buffered at most 0.5). One seed: the
 * three-seed table is docs/results/stragglers-builtin.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultLearningStack } from '../actors/default-learning.js';
import { runStragglers } from '../apps/experiments/stragglers.js';
import { loadScenario } from '../core/scenario/load.js';
import type { Benchmark, Figure } from './harness.js';

const benchmarks: Benchmark[] = [
  {
    name: 'stragglers-time-to-accuracy',
    async run(): Promise<Figure[]> {
      const base = loadScenario('scenarios/stragglers-async.yaml');
      const outDir = mkdtempSync(join(tmpdir(), 'fedmkt-bench-stragglers-'));
      const learning = await defaultLearningStack();
      try {
        const runs = await runStragglers({ base, modes: ['sync', 'buffered', 'async'], seeds: [base.seed], learning, outDir });
        const sync = runs.find((r) => r.mode === 'sync');
        return runs.map((r) => ({
          name: `stragglers-time-to-sync-accuracy-${r.mode}`,
          value: r.secondsToTarget ?? Number.NaN,
          unit: 'virtual s',
          ...(sync?.secondsToTarget
            ? { baseline: sync.secondsToTarget, ratio: r.secondsToTarget === null ? Number.NaN : r.secondsToTarget / sync.secondsToTarget }
            : {}),
          ...(r.mode === 'buffered' ? { goal: 'ratio <= 0.5' } : {}),
          target: r.target,
          finalAccuracy: r.finalAccuracy,
          versions: r.versions,
          seed: r.seed,
        }));
      } finally {
        await learning.close?.();
        rmSync(outDir, { recursive: true, force: true });
      }
    },
  },
];

export default benchmarks;
