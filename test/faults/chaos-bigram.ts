import type { Scenario } from '../../core/scenario/schema.js';
import { bigramScenario } from './helpers.js';

/** Every fault at once on a bigram federation: message faults, a partition, a dropout, a server and a client crash. */
export function chaosBigramScenario(): Scenario {
  return bigramScenario({
    clients: 5,
    rounds: 4,
    upload: 'lateMessages: { acceptWithinRounds: 1 }',
    extra: `faults:
  messages:
    - { action: drop, p: 0.08 }
    - { action: delay, ms: 200, jitterMs: 6000, p: 0.3 }
    - { action: duplicate, copies: 1, gapMs: 100, p: 0.15 }
    - { action: reorder, maxHoldMs: 15000, p: 0.1 }
    - { action: corrupt, bytes: 2, p: 0.1 }
  partitions: [ { actors: [c5], fromMs: 20000, toMs: 30000 } ]
  dropout: { script: [ { client: c2, round: 2, state: computePublicLogits, rejoinRound: 3 } ] }
  crashes:
    - { actor: server, round: 2, state: awaitSLMLogits, afterMs: 400, restartAfterMs: 300 }
    - { actor: c3, round: 3, state: trainPrivate, restartAfterMs: 1000 }
  stragglers: { compute: { dist: lognormal, sigma: 0.8 }, perRound: true }
`,
  });
}
