import type { AnyActorRef, Snapshot } from 'xstate';
import type { Clock } from '../core/clock/clock.js';
import { leafStateName } from '../core/faults/states.js';
import type { RunRecorder } from './run-recorder.js';

/** Records a `state` event each time an actor's active state changes. */
export function trackStates(actorId: string, actor: AnyActorRef, clock: Clock, recorder: RunRecorder, onChange?: (state: string, round: number) => void): void {
  let last = '';
  const observe = (snapshot: Snapshot<unknown> & { value?: unknown; context?: { round?: number; failure?: string | null } }) => {
    const state = leafStateName(snapshot.value);
    const round = snapshot.context?.round ?? 0;
    const key = `${round}:${state}`;
    if (key === last) return;
    last = key;
    // A failed actor says why in the trace, so the invariant checker can tell a stated end from a stall.
    const reason = state === 'failed' ? { reason: snapshot.context?.failure ?? 'unknown' } : {};
    recorder.event({ t: clock.now(), actor: actorId, round, kind: 'state', state, ...reason });
    onChange?.(state, round);
  };
  observe(actor.getSnapshot());
  actor.subscribe({ next: observe, error: () => undefined });
}
