/**
 * What an exploration explores: a scenario with its data and learning stack, the faults a
 * search may add, the properties runs must keep, and when a run counts as never ending.
 */
import { defaultLearningStack } from '../actors/default-learning.js';
import { loadFederationData } from '../actors/federation-data.js';
import type { RunOptions } from '../actors/federation.js';
import { protocolOnlyLearningStack } from '../actors/protocol-only-learning.js';
import type { Property } from '../core/explore/properties.js';
import { faultSpace, type FaultKind } from '../core/schedule/fault-space.js';
import { isProtocolOnly, neverEndsAfterMs, type Scenario } from '../core/scenario/schema.js';
import type { ExploreTarget } from './runner.js';

export interface TargetOptions {
  /** Fault kinds a search may add (default all); empty: none, only the scenario's own. */
  kinds?: readonly FaultKind[];
  properties?: readonly Property[];
  machines?: RunOptions['machines'];
}

export async function exploreTarget(given: Scenario, options: TargetOptions = {}): Promise<ExploreTarget> {
  // Where actors persist changes nothing of what they do; schedules keep it in memory.
  const scenario: Scenario = given.faults.persist === 'disk' ? { ...given, faults: { ...given.faults, persist: 'memory' } } : given;
  const p = scenario.protocol;
  const space =
    options.kinds && options.kinds.length === 0
      ? null
      : faultSpace({ uploadMs: p.awaitSLMLogits.deadlineMs, llmLogitsMs: p.awaitLLMLogits.deadlineMs }, options.kinds);
  return {
    scenario,
    data: await loadFederationData(scenario),
    // One process runs one schedule at a time: models in this thread.
    learning: isProtocolOnly(scenario) ? protocolOnlyLearningStack() : await defaultLearningStack({ workers: 0 }),
    space,
    properties: options.properties ?? [],
    ...(options.machines ? { machines: options.machines } : {}),
    limitMs: neverEndsAfterMs(scenario),
    maxEvents: 200 * (scenario.rounds + 2) * (scenario.clients.length + 1) * 20,
  };
}
