import type { AnyActorRef, Snapshot } from 'xstate';
import type { Clock } from '../core/clock/clock.js';
import type { RunRecorder } from './run-recorder.js';

/** `trainPrivate`, `fedAvg.awaitAverage`, `done`: the active leaf, without the `round.` wrapper. */
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

/** Records a `state` event each time an actor's active state changes. */
export function trackStates(
  actorId: string,
  actor: AnyActorRef,
  clock: Clock,
  recorder: RunRecorder,
  onChange?: (state: string, round: number) => void,
): void {
  let last = '';
  const observe = (snapshot: Snapshot<unknown> & { value?: unknown; context?: { round?: number } }) => {
    const state = leafStateName(snapshot.value);
    const round = snapshot.context?.round ?? 0;
    const key = `${round}:${state}`;
    if (key === last) return;
    last = key;
    recorder.event({ t: clock.now(), actor: actorId, round, kind: 'state', state });
    onChange?.(state, round);
  };
  observe(actor.getSnapshot());
  actor.subscribe({ next: observe, error: () => undefined });
}
