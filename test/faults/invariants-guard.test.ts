/**
 * A server machine whose staleness guard accepts everything breaks the protocol on purpose;
 * the run's invariant check catches it (and `fedmkt run` would exit 1).
 */
import { describe, expect, it, vi } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import { bigramLearning, bigramScenario } from './helpers.js';

vi.mock('../../machines/server.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../machines/server.js')>();
  return { ...original, serverMachine: original.serverMachine.provide({ guards: { acceptableLateUpload: () => true } }) };
});

describe('a broken acceptance guard', () => {
  it('is caught: uploads counted in the wrong round and counted twice', async () => {
    // c4 is slow: its uploads arrive a round late; every upload to the server is duplicated.
    const profiles = ['{ msPerTrainSample: 20 }', '{ msPerTrainSample: 30 }', '{ msPerTrainSample: 40 }', '{ msPerTrainSample: 2000 }'];
    const scenario = bigramScenario({ rounds: 3, profiles, extra: 'faults: { messages: [ { action: duplicate, type: slm-logits, from: c1 } ] }' });
    const result = await runFederation(scenario, { learning: bigramLearning() });
    const kinds = new Set(result.violations.map((v) => v.invariant));
    expect(kinds).toEqual(new Set(['round', 'once']));
    expect(result.violations.find((v) => v.invariant === 'round')!.message).toMatch(
      /^server accepted slm-logits c4:\d of round \d from c4 in round \d \(late uploads count within 0 rounds\)$/,
    );
    expect(result.violations.find((v) => v.invariant === 'once')!.message).toMatch(
      /^server (accepted slm-logits c1:\d twice|counted two slm-logits uploads from c1 toward round \d)$/,
    );
  });
});
