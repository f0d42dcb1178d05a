/** Buffered FedMKT with a buffer of every client and no stragglers is the synchronous protocol, on transformer LMs too. */
import { describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation } from '../../actors/federation.js';
import type { AdapterWeights } from '../../core/models/model.js';
import { tinyScenario } from '../federation/tiny-scenario.js';

describe('buffered = sync on tiny transformers', () => {
  it('same figures every round and the same final adapters, to the bit', async () => {
    const learning = await defaultLearningStack();
    const learnt: Record<string, { figures: string[]; weights: Record<string, AdapterWeights> }> = {};
    try {
      for (const mode of ['sync', 'buffered'] as const) {
        const scenario = tinyScenario();
        scenario.protocol.awaitSLMLogits.quorum = 3;
        scenario.protocol.mode = mode;
        if (mode === 'buffered') scenario.protocol.bufferSize = 3;
        const weights: Record<string, AdapterWeights> = {};
        const result = await runFederation(scenario, {
          learning,
          onFinish: async (parties) => {
            for (const p of parties) weights[p.id] = p.model.getAdapter();
          },
        });
        expect(result.violations).toEqual([]);
        expect(result.failures).toEqual({});
        const figures = result.recorder.metrics.map((m) => `${m.actor}@${m.round} ${m.accuracy} ${m.publicCE} ${m.trainLoss} ${m.distillLoss}`).sort();
        learnt[mode] = { figures, weights };
      }
    } finally {
      await learning.close?.();
    }
    const { sync, buffered } = learnt as Record<'sync' | 'buffered', { figures: string[]; weights: Record<string, AdapterWeights> }>;
    expect(buffered.figures).toEqual(sync.figures);
    expect(buffered.figures).toHaveLength(4 * 3);
    expect(Object.keys(buffered.weights)).toEqual(['server', 'c1', 'c2', 'c3']);
    for (const [id, w] of Object.entries(sync.weights)) expect(buffered.weights[id]).toEqual(w);
  }, 300_000);
});
