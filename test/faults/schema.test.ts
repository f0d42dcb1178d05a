/** The `faults` section and the late-upload policy: defaults, and clear errors with their place. */
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario/load.js';
import { lateAcceptWithinRounds } from '../../core/scenario/schema.js';
import { problems } from '../scenario/problems.js';

const base = `name: t
rounds: 3
server: { model: bigram }
clients:
  - { id: c1, model: bigram }
  - { id: c2, model: bigram }
`;

describe('faults in a scenario', () => {
  it('defaults to no faults and to dropping late uploads', () => {
    const s = parseScenario(base);
    expect(s.faults).toEqual({
      dropout: { p: 0, state: 'trainPrivate', rejoinAfterRounds: 1, script: [] },
      crashes: [],
      messages: [],
      partitions: [],
      persist: 'memory',
    });
    expect(s.protocol.awaitSLMLogits.lateMessages).toBe('drop');
    expect(lateAcceptWithinRounds(s)).toBe(0);
    expect(lateAcceptWithinRounds(parseScenario(`${base}protocol: { awaitSLMLogits: { lateMessages: { acceptWithinRounds: 2 } } }\n`))).toBe(2);
  });

  it('accepts every kind of fault', () => {
    const s = parseScenario(`${base}faults:
  dropout: { p: 0.3, script: [ { client: c2, round: 2, state: uploadLogits, rejoinRound: 3 } ] }
  stragglers: { compute: { dist: lognormal, sigma: 1 }, bandwidth: { dist: pareto, alpha: 2 }, trace: [ { client: c1, computeFactor: 3 } ] }
  crashes: [ { actor: server, round: 2, state: awaitSLMLogits, afterMs: 100, restartAfterMs: never } ]
  messages:
    - { action: drop, type: slm-logits, from: c1, round: [1, 3] }
    - { action: delay, ms: 100, jitterMs: 50, to: [c1, c2], round: { from: 2 } }
    - { action: duplicate, copies: 2, state: awaitLLMLogits }
    - { action: reorder, p: 0.5 }
    - { action: corrupt, bytes: 3, limit: 1 }
  partitions: [ { actors: [c1], fromMs: 0, toMs: 1000 } ]
`);
    expect(s.faults.messages.map((m) => m.action)).toEqual(['drop', 'delay', 'duplicate', 'reorder', 'corrupt']);
    expect(s.faults.crashes[0]!.restartAfterMs).toBe('never');
  });

  it('names a bad fault spec with its line and path', () => {
    const text = `${base}faults:
  dropout: { p: 1.5, state: sleeping }
  crashes:
    - { actor: c9, round: 2, state: awaitSLMLogits }
    - { actor: server, round: 7, state: trainPrivate }
  messages:
    - { action: explode }
    - { action: drop, ms: 10, from: c7 }
    - { action: delay }
  partitions: [ { actors: [c1], fromMs: 50, toMs: 10 } ]
  stragglers: { compute: { dist: lognormal } }
`;
    expect(problems(text)).toEqual([
      '8 faults.dropout.p: expected a probability in [0, 1], got 1.5',
      '17 faults.stragglers.compute.sigma: lognormal needs sigma',
      '13 faults.messages[0].action: expected one of drop, delay, duplicate, reorder, corrupt, got "explode"',
      '14 faults.messages[1].ms: "ms" is not a parameter of drop (it takes none)',
      '15 faults.messages[2].ms: delay needs ms (and/or jitterMs)',
      '16 faults.partitions[0].toMs: expected toMs after fromMs',
    ]);
    // Cross-references are checked once every field is well-formed.
    const refs = `${base}faults:
  dropout: { state: sleeping }
  crashes:
    - { actor: c9, round: 2, state: awaitSLMLogits }
    - { actor: server, round: 7, state: trainPrivate }
  messages: [ { action: drop, from: c7 } ]
`;
    expect(problems(refs)).toEqual([
      '10 faults.crashes[0].actor: unknown actor "c9" (the scenario has server, c1, c2)',
      '11 faults.crashes[1].state: "trainPrivate" is not a server state an actor can be seen in; expected one of evaluateZeroShot, announceRound, awaitSLMLogits, alignSLMTokens, distillFromSLMs, computeLLMLogits, broadcastLLMLogits, fedAvg.awaitAdapters, fedAvg.averageAdapters, roundEnd, finishing, aborting, awaitFinishAcks, done, failed',
      '11 faults.crashes[1].round: round 7 is after the last round (3)',
      '8 faults.dropout.state: "sleeping" is not a client state an actor can be seen in; expected one of evaluateZeroShot, waitForRound, awaitAnnouncement, trainPrivate, computePublicLogits, uploadLogits, awaitLLMLogits, alignLLMTokens, distillFromLLM, fedAvg.uploadAdapter, fedAvg.awaitAverage, fedAvg.applyAverage, roundEnd, released, done, failed',
      '12 faults.messages[0].from: unknown actor "c7" (the scenario has server, c1, c2)',
    ]);
    expect(problems(`${base}protocol: { awaitSLMLogits: { lateMessages: keep } }\n`)).toEqual([
      '7 protocol.awaitSLMLogits.lateMessages: expected "drop" or { acceptWithinRounds: n }, got "keep"',
    ]);
  });
});
