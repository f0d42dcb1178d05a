import { describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation } from '../../actors/federation.js';
import { loadScenario } from '../../core/scenario/load.js';

describe('FedMKT learns (scenarios/quickstart.yaml, real TF.js models)', () => {
  it('every model is more accurate on held-out questions after the run than zero-shot', { timeout: 600_000 }, async () => {
    const scenario = loadScenario('scenarios/quickstart.yaml');
    const result = await runFederation(scenario, { learning: await defaultLearningStack() });
    expect(result.failures).toEqual({});
    const metrics = result.recorder.metrics;
    for (const actor of ['server', ...scenario.clients.map((c) => c.id)]) {
      const zeroShot = metrics.find((m) => m.actor === actor && m.round === 0)!.accuracy!;
      const final = metrics.find((m) => m.actor === actor && m.round === scenario.rounds)!.accuracy!;
      expect(final, `${actor}: zero-shot ${zeroShot}, after ${scenario.rounds} rounds ${final}`).toBeGreaterThan(zeroShot);
    }
    // The paper's premise holds at the start: the server's LLM knows more than the SLMs.
    const zs = (actor: string) => metrics.find((m) => m.actor === actor && m.round === 0)!.accuracy!;
    for (const c of scenario.clients) expect(zs('server')).toBeGreaterThan(zs(c.id));
  });
});
