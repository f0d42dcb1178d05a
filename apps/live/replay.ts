/**
 * Feeds recorded events to a sink at a chosen pace (tests, demos, `events.jsonl` replays):
 * `batch` events every `intervalMs` of wall time, yielding to the event loop in between.
 */
import type { LiveEvent } from './snapshot.js';

export interface ReplayOptions {
  /** Events per step (default 1). */
  batch?: number;
  /** Wall ms between steps (default 0: next macrotask). */
  intervalMs?: number;
  /** Stop early when this returns true. */
  stop?: () => boolean;
}

export async function replay(events: readonly LiveEvent[], sink: (event: LiveEvent) => void, options: ReplayOptions = {}): Promise<void> {
  const batch = Math.max(1, options.batch ?? 1);
  const interval = options.intervalMs ?? 0;
  for (let i = 0; i < events.length; i += batch) {
    if (options.stop?.()) return;
    for (const e of events.slice(i, i + batch)) sink(e);
    await new Promise<void>((resolve) => (interval > 0 ? setTimeout(resolve, interval) : setImmediate(resolve)));
  }
}
