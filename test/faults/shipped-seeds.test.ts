/**
 * The shipped fault scenarios at seeds nobody tuned them for, and at three times their length:
 * the protocol alone (model: null, the scenario's own faults, deadlines and profiles), so many
 * seeds cost seconds. Every run must keep every invariant (liveness included) and end.
 */
import { describe, expect, it } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import { protocolOnlyLearningStack } from '../../actors/protocol-only-learning.js';
import { formatViolation } from '../../core/invariants/check.js';
import { loadScenario } from '../../core/scenario/load.js';
import type { ScenarioOverride } from '../../core/scenario/overrides.js';

const SCENARIOS = ['chaos', 'dropout-30', 'stragglers', 'server-crash', 'population-chaos'];
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

function protocolOnly(file: string, seed: number, roundsFactor = 1, extra: ScenarioOverride[] = []) {
  const base = loadScenario(file);
  const overrides: ScenarioOverride[] = [
    ...extra,
    { path: 'seed', value: seed },
    { path: 'rounds', value: base.rounds * roundsFactor },
    { path: 'server.model', value: null },
    ...base.clients.map((_, i) => ({ path: `clients.${i}.model`, value: null })),
    // The scenario's crashes and dropouts keep their rounds; persistence on disk needs a run folder.
    { path: 'faults.persist', value: 'memory' },
  ];
  return loadScenario(file, { overrides });
}

async function expectSound(scenario: ReturnType<typeof protocolOnly>) {
  const result = await runFederation(scenario, { learning: protocolOnlyLearningStack() });
  expect(result.violations.map(formatViolation)).toEqual([]);
  expect(result.timedOut).toBe(false);
  // Whoever is up at the end is done: a failure is only an actor the scenario took down for good.
  for (const [id, state] of Object.entries(result.finalStates))
    expect(state === 'done' || state.startsWith('offline'), `${id} ended ${state}: ${result.failures[id] ?? ''}`).toBe(true);
}

describe.each(SCENARIOS)('scenarios/%s.yaml at many seeds', (name) => {
  const file = `scenarios/${name}.yaml`;
  it.each([...SEEDS.map((seed) => ({ seed, factor: 1 })), { seed: 11, factor: 3 }, { seed: 12, factor: 3 }])(
    'seed $seed, $factor x its rounds',
    async ({ seed, factor }) => expectSound(protocolOnly(file, seed, factor)),
  );
});

// Devices going offline end a lost client's wait of their own accord; always on, nothing but the
// protocol does (a population's client whose announcement was lost waited for the server to be gone).
describe('scenarios/population-chaos.yaml with every device always on', () => {
  it.each([1, 2, 3, 4, 5, 6])('seed %i', async (seed) =>
    expectSound(protocolOnly('scenarios/population-chaos.yaml', seed, 1, [{ path: 'population.availability', value: 'always-on' }])),
  );
});
