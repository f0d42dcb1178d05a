/**
 * One clock abstraction for the whole system. XState's delayed transitions run on it
 * (it satisfies XState's `clock` option), transports deliver on it, and work durations are
 * charged to it. Locally it is a {@link VirtualClock}; over NATS it is {@link WallClock}.
 */
export type TimerId = number;

export interface Clock {
  /** Milliseconds: virtual time for local runs, epoch wall time for NATS runs. */
  now(): number;
  /** `label` names what fires (`c1:timer`, `net:<subject>`, ...): how a schedule tells simultaneous events apart. */
  setTimeout(fn: () => void, ms: number, label?: string): TimerId;
  clearTimeout(id: TimerId): void;
  /**
   * Run `work` now and resolve with its result `durationMs` of clock time later. On the
   * virtual clock the duration is the profile's figure, not the CPU's; on the wall clock
   * the work simply takes as long as it takes (durationMs is ignored).
   */
  charge<T>(durationMs: number, work: () => Promise<T>, label?: string): Promise<T>;
}

/** The clock as one actor's machine sees it (XState's `clock` option): its timers carry the actor's name. */
export function actorClock(clock: Clock, actor: string): Pick<Clock, 'setTimeout' | 'clearTimeout'> {
  const label = `${actor}:timer`;
  return { setTimeout: (fn, ms) => clock.setTimeout(fn, ms, label), clearTimeout: (id) => clock.clearTimeout(id) };
}

export class WallClock implements Clock {
  private readonly timers = new Map<TimerId, NodeJS.Timeout>();
  private nextId = 1;

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.nextId++;
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        fn();
      }, ms),
    );
    return id;
  }

  clearTimeout(id: TimerId): void {
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
  }

  charge<T>(_durationMs: number, work: () => Promise<T>): Promise<T> {
    return work();
  }
}
