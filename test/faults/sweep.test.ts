/** `fedmkt sweep`: settings, combinations, and a small sweep's table. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { combinations, formatTable, parseSetting, runSweep, sweepTable, toCsv } from '../../cli/commands/sweep.js';
import { setPath } from '../../core/scenario/overrides.js';
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
});
