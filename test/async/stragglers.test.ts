/** `fedmkt experiment stragglers` on bigram models: the three modes on one population, data and straggler profile. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accuracyTimeChart } from '../../apps/experiments/stragglers-chart.js';
import { modeScenario, ratiosToSync, renderStragglersMarkdown, runStragglers, writeStragglersResults } from '../../apps/experiments/stragglers.js';
import { bigramLearning, bigramScenario } from '../faults/helpers.js';

describe('the stragglers experiment', () => {
  it("gives buffered and async the sync run's time as budget and as many versions as distil its uploads", () => {
    const base = bigramScenario({ clients: 4, rounds: 3 });
    const buffered = modeScenario(base, 'buffered', 9, 12_345);
    expect(buffered.protocol).toMatchObject({ mode: 'buffered', bufferSize: 2, timeBudgetMs: 12_345 });
    expect(buffered.rounds).toBe(6);
    expect(buffered.seed).toBe(9);
    const async = modeScenario(base, 'async', 9, 12_345);
    expect(async.rounds).toBe(12);
    expect(async.protocol.bufferSize).toBeUndefined();
    expect(modeScenario(base, 'sync', 9, null).protocol.mode).toBe('sync');
  });

  it('runs every mode on the same data and reports accuracy against time, target, bytes and staleness', async () => {
    const base = bigramScenario({
      clients: 4,
      rounds: 3,
      extra: 'faults: { stragglers: { compute: { dist: lognormal, mu: 0, sigma: 1.5 }, perRound: true } }',
    });
    base.protocol.awaitSLMLogits.quorum = 4;
    const outDir = mkdtempSync(join(tmpdir(), 'fedmkt-stragglers-'));
    try {
      const runs = await runStragglers({ base, modes: ['sync', 'buffered', 'async'], seeds: [1, 2], learning: bigramLearning(), outDir });
      expect(runs.map((r) => `${r.mode}/${r.seed}`)).toEqual(['sync/1', 'buffered/1', 'async/1', 'sync/2', 'buffered/2', 'async/2']);
      for (const r of runs) {
        expect(r.failures).toBe(0);
        expect(r.violations).toBe(0);
        expect(r.curve[0]).toMatchObject({ version: 0, seconds: 0 });
        const sync = runs.find((s) => s.mode === 'sync' && s.seed === r.seed)!;
        expect(r.target).toBe(sync.finalAccuracy);
        // Never past the sync run's time (the budget), give or take the finish.
        if (r.mode !== 'sync') for (const p of r.curve) expect(p.seconds).toBeLessThanOrEqual(sync.virtualSeconds);
        expect(r.bytes).toBeGreaterThan(0);
      }
      const async = runs.filter((r) => r.mode === 'async');
      // One upload per version; the budget may end the run while the last published version is measured.
      for (const r of async) expect(Object.values(r.staleness).reduce((a, b) => a + b, 0) - r.versions).toBeOneOf([0, 1]);
      const ratios = ratiosToSync(runs);
      expect(ratios.sync).toBe(1);
      const markdown = renderStragglersMarkdown(runs, 'npx fedmkt experiment stragglers');
      expect(markdown).toMatch(/\| buffered \| 1, 2 \|/);
      writeStragglersResults(outDir, 'table', runs, markdown, accuracyTimeChart(runs, 'test'));
      expect(readFileSync(join(outDir, 'table.svg'), 'utf8')).toContain('<title>async, seed 2</title>');
      expect(readFileSync(join(outDir, 'table.csv'), 'utf8').split('\n')[1]).toMatch(/^sync,1,/);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 120_000);
});
