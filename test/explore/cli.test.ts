/**
 * `fedmkt explore` as a user meets it: a search that finds nothing exits 0 and says how much it
 * covered; one that finds a failure exits 1 with a reproducer that `fedmkt run --schedule`
 * reproduces and `fedmkt report` shows; bad flags exit 2 naming the flag. And the exhaustive
 * strategy on a small configuration: it exhausts the space, and finds a planted bug.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../../core/scenario/load.js';
import { explore } from '../../explore/explore.js';
import { exploreTarget } from '../../explore/target.js';
import { fedmkt, fedmktHere } from '../cli/helpers.js';
import { PLANTED_BUGS } from './planted-bugs.js';

const out = mkdtempSync(join(tmpdir(), 'fedmkt-explore-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const SMALL = 'scenarios/explore-small.yaml';

describe('fedmkt explore', () => {
  it('finds nothing in a sound protocol: exit 0, coverage table and summary', async () => {
    const dir = join(out, 'clean');
    const r = await fedmktHere(['explore', SMALL, '--budget', '60', '--workers', '1', '--quiet', '--out', dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\d+ of \d+ \(state x fault\) cells exercised over 60 runs/);
    expect(r.stdout).toContain('no failure found');
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { schedules: number; failures: unknown[]; coverage: { hit: number } };
    expect(summary.schedules).toBe(60);
    expect(summary.failures).toEqual([]);
    expect(summary.coverage.hit).toBeGreaterThan(10);
  });

  it('finds a broken property, exits 1 and writes a reproducer that run --schedule reproduces and report shows', async () => {
    const dir = join(out, 'skips');
    const r = await fedmktHere([
      'explore',
      SMALL,
      '--budget',
      '300',
      '--workers',
      '1',
      '--quiet',
      '--seed',
      '3',
      '--expect',
      'skippedRounds <= 0',
      '--out',
      dir,
    ]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/failure 1: \[skippedRounds <= 0\] 1 round skipped/);
    expect(r.stdout).toMatch(/\d+ faults -> [1-3] faults/);
    const failure = join(dir, 'failure-1');
    for (const f of ['scenario.yaml', 'schedule.json', 'failure.md', 'run/events.jsonl']) expect(existsSync(join(failure, f)), f).toBe(true);
    // The run reproduces it on its own: a skipped round, as the invariants see the trace, and the summary table.
    const again = fedmkt(['run', join(failure, 'scenario.yaml'), '--schedule', join(failure, 'schedule.json'), '--quiet', '--out', join(out, 'again')]);
    expect(again.status).toBe(0);
    const events = readFileSync(join(out, 'again', 'events.jsonl'), 'utf8');
    expect(events).toMatch(/"kind":"quorum","round":\d,"accepted":\d,"needed":2,"outcome":"skip-round"/);
    const report = await fedmktHere(['report', dir]);
    expect(report.status).toBe(0);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('skippedRounds &lt;= 0');
    expect(html).toContain('(state × fault) cells exercised');
    expect(existsSync(join(failure, 'run', 'report.html'))).toBe(true);
  });

  it('refuses bad flags with exit 2, naming them', async () => {
    for (const [args, message] of [
      [['--expect', 'speed > 3'], '--expect "speed > 3"'],
      [['--faults', 'drop,flood'], '--faults: unknown fault kind "flood"'],
      [['--budget', 'soon'], 'expected a number of schedules or a duration'],
      [['--strategy', 'greedy'], "argument 'greedy' is invalid"],
    ] as const) {
      const r = await fedmktHere(['explore', SMALL, ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(message);
    }
  });

  it('run --schedule refuses a schedule recorded for another scenario, naming the file', async () => {
    const file = join(out, 'other.json');
    writeFileSync(file, JSON.stringify({ format: 'fedmkt-schedule', version: 1, scenario: 'chaos', seed: 24, choices: [] }));
    const r = await fedmktHere(['run', SMALL, '--schedule', file, '--out', join(out, 'refused')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--schedule ${file}: recorded for scenario chaos with seed 24, not explore-small with seed 1`);
    expect(existsSync(join(out, 'refused'))).toBe(false);
  });
});

describe('exhaustive search', () => {
  const full = loadScenario(SMALL);
  // Two clients (quorum 1): small enough to exhaust in seconds with one added fault. Two faults
  // over 2 clients x 2 rounds take tens of minutes: docs/exploring.md gives the command and result.
  const two = (rounds: number) => ({
    ...full,
    name: `explore-small-2x${rounds}`,
    rounds,
    clients: full.clients.slice(0, 2),
    protocol: { ...full.protocol, awaitSLMLogits: { ...full.protocol.awaitSLMLogits, quorum: 1 } },
  });

  it('exhausts 2 clients x 2 rounds with one added fault and finds nothing; state hashing prunes', async () => {
    const result = await explore(await exploreTarget(two(2)), { strategy: 'exhaustive', budget: { ms: 300_000 }, maxFaults: 1, seed: 0 });
    const e = result.exhaustive!;
    expect(result.failures.map((f) => f.signature)).toEqual([]);
    expect(e.exhausted).toBe(true);
    expect(e.states).toBeGreaterThan(1000);
    expect(e.pruned).toBeGreaterThan(e.schedules / 4);
  });

  it('finds a planted bug', async () => {
    const bug = PLANTED_BUGS.find((b) => b.name === 'duplicates-counted')!;
    const result = await explore(await exploreTarget(two(1), { machines: bug.machines }), {
      strategy: 'exhaustive',
      budget: { ms: 120_000 },
      maxFaults: 1,
      seed: 0,
      maxFailures: 1,
    });
    expect(result.failures[0]?.finding.property).toBe(bug.property);
  });
});
