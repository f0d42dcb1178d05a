/**
 * Lazy clients: what a run holds grows with the clients selected per round, not with the
 * population. Measured in child processes (a full GC each side of the run).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function heapGrowth(count: number, perRound: number, rounds: number): { heapGrowthBytes: number; events: number; violations: number } {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'test/population/memory-probe.ts', String(count), String(perRound), String(rounds)],
    { encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').pop()!) as { heapGrowthBytes: number; events: number; violations: number };
}

describe('a population in memory', () => {
  it('holds the same at 10,000 and 100,000 clients with 50 selected per round (within 20% + 8 MB)', { timeout: 300_000 }, () => {
    const small = heapGrowth(10_000, 50, 3);
    const large = heapGrowth(100_000, 50, 3);
    expect(small.violations + large.violations).toBe(0);
    // Same rounds and selection: traces of about the same size.
    expect(Math.abs(large.events - small.events)).toBeLessThan(0.1 * small.events);
    expect(large.heapGrowthBytes).toBeLessThan(1.2 * small.heapGrowthBytes + 8 * 2 ** 20);
  });
});
