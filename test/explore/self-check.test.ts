/**
 * The explorer checks itself: each planted bug (planted-bugs.ts) is found within a stated budget
 * at several explorer seeds and with every seeded strategy, and shrunk to at most 3 faults whose
 * readable reproducer fails again on its own; the project's machines pass the same searches.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocolOnlyLearningStack } from '../../actors/protocol-only-learning.js';
import { runFederation } from '../../actors/federation.js';
import { loadScenario } from '../../core/scenario/load.js';
import { loadSchedule } from '../../core/schedule/load.js';
import type { Scenario } from '../../core/scenario/schema.js';
import { explore } from '../../explore/explore.js';
import { reproduce } from '../../explore/reproduce.js';
import type { SeededStrategy } from '../../explore/strategies.js';
import { exploreTarget } from '../../explore/target.js';
import { PLANTED_BUGS } from './planted-bugs.js';

/** Schedules each planted bug must be found within (the first, schedule 0, adds no fault). */
const BUDGET = 600;

let scenario: Scenario;
let doc: Record<string, unknown>;
let out: string;

beforeAll(() => {
  scenario = loadScenario('scenarios/explore-small.yaml', { onDocument: (d) => (doc = d) });
  out = mkdtempSync(join(tmpdir(), 'fedmkt-self-check-'));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

const searches: { strategy: SeededStrategy; seed: number }[] = [
  { strategy: 'random', seed: 1 },
  { strategy: 'random', seed: 2 },
  { strategy: 'pct', seed: 3 },
  { strategy: 'swarm', seed: 4 },
];

describe('planted bugs are found and shrunk', () => {
  it.each(PLANTED_BUGS.flatMap((bug) => searches.map((s) => ({ ...s, bug, label: `${bug.name}, ${s.strategy} seed ${s.seed}` }))))(
    '$label',
    async ({ bug, strategy, seed }) => {
      const target = await exploreTarget(scenario, { machines: bug.machines });
      const result = await explore(target, { strategy, budget: { schedules: BUDGET }, maxFaults: 2, seed, maxFailures: 1 });
      const failure = result.failures[0];
      expect(failure, `${bug.name} (${bug.what}) not found in ${BUDGET} schedules`).toBeDefined();
      expect(failure!.finding.property).toBe(bug.property);

      const dir = join(out, `${bug.name}-${strategy}-${seed}`);
      const rep = await reproduce(target, failure!, doc, dir);
      expect(rep.faultsAfter).toBeGreaterThan(0);
      expect(rep.faultsAfter).toBeLessThanOrEqual(3);
      expect(rep.faultsAfter).toBeLessThanOrEqual(rep.faultsBefore);

      // The files alone reproduce it, through what `fedmkt run SCENARIO --schedule FILE` does.
      const written = loadScenario(join(dir, 'scenario.yaml'));
      const schedule = loadSchedule(join(dir, 'schedule.json'), written);
      const rerun = await runFederation(written, {
        learning: protocolOnlyLearningStack(),
        schedule: { scheduler: schedule.scheduler, space: schedule.space },
        machines: bug.machines,
      });
      const broken = [...rerun.violations.map((v) => `invariant:${v.invariant}`), ...(rerun.timedOut ? ['ends'] : [])];
      expect(broken).toContain(bug.property);
      expect(readFileSync(join(dir, 'failure.md'), 'utf8')).toContain(`shrunk from ${rep.faultsBefore} faults to ${rep.faultsAfter}`);
    },
  );
});

describe('the project machines pass the same searches', () => {
  it.each(searches)('$strategy seed $seed: no failure in 300 schedules with up to 2 added faults', async ({ strategy, seed }) => {
    const target = await exploreTarget(scenario);
    const result = await explore(target, { strategy, budget: { schedules: 300 }, maxFaults: 2, seed });
    expect(result.failures.map((f) => f.signature)).toEqual([]);
    expect(result.meanFaults).toBeGreaterThan(0.5);
  });
});
