/**
 * The end of a local run (federation.ts): waiting for it on the wall clock, where each actor
 * ended, and the invariants its trace breaks.
 */
import type { FaultController } from '../core/faults/controller.js';
import { asyncInvariantChecker } from '../core/invariants/async.js';
import { checkInvariants, type Violation } from '../core/invariants/check.js';
import type { RunEvent } from '../core/records.js';
import { lateAcceptWithinRounds, quorumCount, type Scenario } from '../core/scenario/schema.js';

/** With the wall clock, actors run on real timers: wait until every one has stopped (`settled`). */
export async function wallClockSettled(settled: () => boolean): Promise<number> {
  const start = Date.now();
  while (!settled()) await new Promise((resolve) => setTimeout(resolve, 2));
  return Date.now() - start;
}

/** Where each local actor ended, and why one that did not end `done` failed or stalled. */
export function endStates(
  controller: FaultController,
  localIds: readonly string[],
  { stopped, timedOut, limitMs }: { stopped: boolean; timedOut: boolean; limitMs: number },
): { finalStates: Record<string, string>; failures: Record<string, string> } {
  const finalStates: Record<string, string> = {};
  const failures: Record<string, string> = {};
  for (const id of localIds) {
    const actor = controller.actorOf(id);
    const down = controller.offline(id);
    if (stopped) {
      finalStates[id] = 'stopped';
      continue;
    }
    if (!actor || down) {
      finalStates[id] = down ? `offline (${down.kind} in round ${down.round} at ${down.state})` : 'offline';
      continue;
    }
    const snapshot = actor.getSnapshot() as { value: unknown; status: string; context: { failure: string | null } };
    finalStates[id] = typeof snapshot.value === 'string' ? snapshot.value : JSON.stringify(snapshot.value);
    if (snapshot.context.failure) failures[id] = snapshot.context.failure;
    else if (snapshot.status === 'active')
      failures[id] = timedOut
        ? `still in ${finalStates[id]} after ${(limitMs / 1000).toFixed(0)} virtual s`
        : `stalled in ${finalStates[id]}: no event left to process`;
  }
  return { finalStates, failures };
}

/**
 * The invariants the trace breaks. They read the whole federation's trace: checked where every
 * actor ran. A run stopped early has no end to check, only what it did.
 */
export function traceViolations(
  events: readonly RunEvent[],
  run: {
    scenario: Scenario;
    population: boolean;
    /** A population split over processes: its trace is whole in none of them. */
    split: boolean;
    clientIds: readonly string[];
    /** Actors run here. */
    local: number;
    /** Liveness bounds per client (virtual-clock runs). */
    endWithinMs: (() => Record<string, number>) | null;
    asyncMode: boolean;
    stopped: boolean;
  },
): Violation[] {
  const { scenario, population, split, clientIds, local, endWithinMs, asyncMode, stopped } = run;
  const common = { partial: stopped, quorum: quorumCount(scenario), acceptWithinRounds: lateAcceptWithinRounds(scenario) };
  if (population) return split ? [] : checkInvariants(events, { ...common, clients: [], population: true });
  if (local !== clientIds.length + 1) return [];
  const checkTrace = asyncMode ? asyncInvariantChecker(scenario) : checkInvariants;
  return checkTrace(events, { ...common, clients: [...clientIds], ...(endWithinMs ? { endWithinMs: endWithinMs() } : {}) });
}
