/**
 * The state names an actor can be observed in (as `state` events record them: the active leaf
 * without the `round.` wrapper). Fault triggers name these; the invariant checker knows them.
 * test/faults/states.test.ts checks the lists against the machine definitions.
 */

export type Role = 'server' | 'client';

/** Leaves a client rests in (work, waiting, or final). */
export const CLIENT_STATES = [
  'evaluateZeroShot',
  'waitForRound',
  'awaitAnnouncement',
  'trainPrivate',
  'computePublicLogits',
  'uploadLogits',
  'awaitLLMLogits',
  'alignLLMTokens',
  'distillFromLLM',
  'fedAvg.uploadAdapter',
  'fedAvg.awaitAverage',
  'fedAvg.applyAverage',
  'roundEnd',
  'released',
  'done',
  'failed',
] as const;

/** Leaves a client passes through within one step: never observed, so never a trigger. */
export const CLIENT_TRANSIENT_STATES = ['start', 'llmLogitsMissing', 'fedAvg.applied', 'fedAvg.skipped', 'roundComplete'] as const;

export const SERVER_STATES = [
  'evaluateZeroShot',
  'announceRound',
  'awaitSLMLogits',
  'alignSLMTokens',
  'distillFromSLMs',
  'computeLLMLogits',
  'broadcastLLMLogits',
  'fedAvg.awaitAdapters',
  'fedAvg.averageAdapters',
  'roundEnd',
  'finishing',
  'aborting',
  'awaitFinishAcks',
  'done',
  'failed',
] as const;

export const SERVER_TRANSIENT_STATES = ['start', 'fedAvg.averaged', 'roundSkipped', 'roundComplete'] as const;

export function statesOf(role: Role): readonly string[] {
  return role === 'server' ? SERVER_STATES : CLIENT_STATES;
}

/** States a round of this role may end in (the last state recorded with that round). */
export function roundExitStates(role: Role): readonly string[] {
  return role === 'server'
    ? ['evaluateZeroShot', 'roundEnd', 'done', 'failed']
    : ['evaluateZeroShot', 'waitForRound', 'awaitAnnouncement', 'roundEnd', 'released', 'done', 'failed'];
}

/** States where the actor's work changes its adapter: leaving one is a persistence point for it. */
export function adapterChangingStates(role: Role): readonly string[] {
  return role === 'server' ? ['distillFromSLMs'] : ['trainPrivate', 'distillFromLLM', 'fedAvg.applyAverage'];
}

/** `trainPrivate`, `fedAvg.awaitAverage`, `done`: a state value's active leaf, without the `round.` wrapper (what `state` events record). */
export function leafStateName(value: unknown): string {
  const parts: string[] = [];
  let cur = value;
  while (cur !== null && typeof cur === 'object') {
    const [key, next] = Object.entries(cur as Record<string, unknown>)[0] ?? [];
    if (key === undefined) break;
    parts.push(key);
    cur = next;
  }
  if (typeof cur === 'string') parts.push(cur);
  if (parts[0] === 'round' && parts.length > 1) parts.shift();
  return parts.join('.');
}
