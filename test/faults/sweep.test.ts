/** `fedmkt sweep`: settings, combinations, and a small sweep's table. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { combinations, formatTable, parseSetting, runSweep, sweepTable, toCsv } from '../../cli/commands/sweep.js';
import { setPath } from '../../core/scenario/overrides.js';
import { protocolOnlyLearningStack } from '../../actors/protocol-only-learning.js';
import { PopulationModel } from '../../core/population/population.js';
import { loadScenario } from '../../core/scenario/load.js';
import { population } from '../population/scenario.js';
import { bigramLearning, bigramScenario } from './helpers.js';

describe('sweep', () => {
  it('parses settings and builds every combination', () => {
    expect(parseSetting('faults.dropout.p=0,0.1,0.5')).toEqual({ path: 'faults.dropout.p', values: [0, 0.1, 0.5] });
    expect(parseSetting('protocol.awaitLLMLogits.onMissing=skip,self-distil').values).toEqual(['skip', 'self-distil']);
    expect(() => parseSetting('nonsense')).toThrow(/expected path=value/);
    expect(setPath({ a: { b: 1 }, l: [{ x: 1 }] }, 'a.c.d', 2)).toEqual({ a: { b: 1, c: { d: 2 } }, l: [{ x: 1 }] });
    expect(setPath({ l: [{ x: 1 }, { x: 2 }] }, 'l.1.x', 5)).toEqual({ l: [{ x: 1 }, { x: 5 }] });
    expect(combinations([parseSetting('a=1,2'), parseSetting('b=x,y')])).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
    ]);
  });

  it('runs the variants and tabulates participation, rounds, time to quorum and accuracy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-sweep-'));
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, stringify(bigramScenario({ rounds: 3 })));
    const axes = [parseSetting('faults.dropout.p=0,0.6')];
    const rows = await runSweep(file, axes, dir, async () => bigramLearning());
    expect(rows.map((r) => r.variant)).toEqual(['faults.dropout.p=0', 'faults.dropout.p=0.6']);
    const [none, many] = rows;
    expect(none!.summary.participation).toBe(1);
    expect(none!.summary.dropouts).toBe(0);
    expect(many!.summary.dropouts).toBeGreaterThan(0);
    expect(many!.summary.participation).toBeLessThan(1);
    expect(rows.every((r) => r.violations === 0)).toBe(true);
    const table = sweepTable(rows, axes);
    expect(table.header.slice(0, 6)).toEqual(['faults.dropout.p', 'participation', 'rounds completed', 'time to quorum s', 'acc server', 'acc clients (mean)']);
    expect(table.cells[0]!.slice(0, 3)).toEqual(['0', '1.000', '3/3']);
    expect(formatTable(table).split('\n')).toHaveLength(4);
    expect(toCsv(table).split('\n')[0]).toBe(table.header.join(','));
  });

  it("sweeps a population: each template's uploads of its announced clients and its measured clients' final accuracy", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-sweep-population-'));
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, population(5, 300, '{ perRound: 8, overcommit: 1.5 }', '  evaluateClients: 4', 3));
    const axes = [parseSetting('selection.overcommit=1,1.5')];
    const rows = await runSweep(file, axes, dir, async () => protocolOnlyLearningStack());
    const model = PopulationModel.of(loadScenario(file));
    const templateOf = (id: string) => model.templateOf(model.indexOf(id)!);
    for (const [i, row] of rows.entries()) {
      const announced = [8, 12][i]!;
      const { summary } = row;
      expect(summary.templates.map((t) => t.template)).toEqual([0, 1]);
      expect(summary.templates.reduce((a, t) => a + t.announced, 0)).toBe(3 * announced);
      expect(summary.templates.reduce((a, t) => a + t.uploads, 0)).toBe(3 * 8);
      // Each template's measured clients and their mean final accuracy, grouped here by the template each client draws.
      const measured = Object.entries(summary.finalAccuracy).filter(([id]) => id !== 'server');
      expect(measured.length).toBeGreaterThan(4);
      for (const t of summary.templates) {
        const mine = measured.filter(([id]) => templateOf(id) === t.template).map(([, a]) => a as number);
        expect(t.measured).toBe(mine.length);
        expect(t.clientAccuracy).toBeCloseTo(mine.reduce((a, b) => a + b, 0) / mine.length, 12);
      }
    }
    // Over-committed, the slow template (0) straggles more: a smaller share of its announced clients upload in time.
    const share = (i: number, t: number) => rows[i]!.summary.templates[t]!.uploads / rows[i]!.summary.templates[t]!.announced;
    expect(share(0, 0)).toBe(1);
    expect(share(1, 0)).toBeLessThan(share(1, 1));
    const table = sweepTable(rows, axes);
    expect(table.header).toEqual([
      'selection.overcommit',
      'participation',
      'rounds completed',
      'time to quorum s',
      'acc server',
      'acc clients (mean)',
      'uploads/announced template 0',
      'acc template 0',
      'uploads/announced template 1',
      'acc template 1',
      'dropouts',
      'crashes',
      'message faults',
      'violations',
      'failures',
    ]);
    const cell = (i: number, name: string) => table.cells[i]![table.header.indexOf(name)];
    expect(cell(1, 'uploads/announced template 0')).toBe(share(1, 0).toFixed(3));
    expect(cell(1, 'acc template 1')).toBe(rows[1]!.summary.templates[1]!.clientAccuracy!.toFixed(3));
  });
});
