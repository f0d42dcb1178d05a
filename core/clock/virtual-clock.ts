import type { Scheduler } from '../schedule/choices.js';
import type { Clock, TimerId } from './clock.js';

interface Scheduled {
  at: number;
  seq: number;
  id: TimerId;
  label: string;
  fire: () => void | Promise<void>;
}

/**
 * A discrete-event scheduler. Events fire in (time, insertion) order; after each one the
 * scheduler waits for the JavaScript job queue to drain, so that everything an event causes
 * (XState transitions, promise continuations) settles before virtual time moves on. Real
 * computation started by {@link charge} runs meanwhile; its result is released only when
 * virtual time reaches the charged completion time. Hence a seeded run replays exactly, and
 * a 10-minute straggler costs no wall time.
 *
 * Events due at the same time fire in the order they were scheduled, unless a {@link Scheduler}
 * is given: then it picks which goes first (an `order` choice between their labels).
 */
export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private nextId = 1;
  private readonly heap: Scheduled[] = [];
  private readonly cancelled = new Set<TimerId>();
  /** Events not yet fired, by id: a cancelled one lets go of its callback at once (it may hold a whole actor), not when its time comes. */
  private readonly queued = new Map<TimerId, Scheduled>();
  private running = false;
  private scheduler: Scheduler | null = null;

  /** `startMs`: where virtual time begins (a resumed run goes on from its checkpoint's time). */
  constructor(startMs = 0) {
    this.time = startMs;
  }

  /** Let `scheduler` order the events due at the same time. */
  useScheduler(scheduler: Scheduler): void {
    this.scheduler = scheduler;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number, label = 'timer'): TimerId {
    return this.schedule(ms, fn, label);
  }

  clearTimeout(id: TimerId): void {
    const item = this.queued.get(id);
    if (!item) return;
    this.queued.delete(id);
    item.fire = noop;
    this.cancelled.add(id);
  }

  charge<T>(durationMs: number, work: () => Promise<T>, label = 'work'): Promise<T> {
    const result = work();
    // Avoid an unhandled rejection before the completion event awaits it.
    result.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      this.schedule(
        durationMs,
        async () => {
          try {
            resolve(await result);
          } catch (error) {
            reject(error);
          }
        },
        label,
      );
    });
  }

  /** Number of events still queued (cancelled ones included until they surface). */
  get pending(): number {
    return this.heap.length;
  }

  /** What is due and when, relative to now: part of a run's state for exploration. */
  pendingDigest(): string {
    return this.heap
      .filter((e) => !this.cancelled.has(e.id))
      .map((e) => `${e.at - this.time}:${e.label}`)
      .sort()
      .join(',');
  }

  /**
   * Process events until none is left, `until()` holds, or virtual time would pass `limitMs`.
   * With `pace` (virtual seconds per wall second) time moves no faster than that, so that a
   * person can follow (each jump waits at most a second). Returns the virtual time reached.
   */
  async run(options: { until?: () => boolean; limitMs?: number; pace?: number } = {}): Promise<number> {
    if (this.running) throw new Error('VirtualClock.run is already running');
    this.running = true;
    try {
      await settle();
      while (this.heap.length > 0) {
        if (options.until?.()) break;
        const next = this.scheduler ? this.popChosen() : this.pop();
        if (!next) continue;
        if (this.cancelled.delete(next.id)) continue;
        if (options.limitMs !== undefined && next.at > options.limitMs) {
          this.push(next);
          break;
        }
        if (options.pace && next.at > this.time) await sleep(Math.min(1000, (next.at - this.time) / options.pace));
        this.time = next.at;
        this.queued.delete(next.id);
        await next.fire();
        await settle();
      }
      return this.time;
    } finally {
      this.running = false;
    }
  }

  private schedule(ms: number, fire: () => void | Promise<void>, label: string): TimerId {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`VirtualClock: invalid delay ${ms} ms`);
    const id = this.nextId++;
    const item = { at: this.time + ms, seq: this.seq++, id, label, fire };
    this.queued.set(id, item);
    this.push(item);
    return id;
  }

  /**
   * The next event, the scheduler choosing among those due at the same time by label (events
   * of one label keep their order); undefined when only cancelled ones were due.
   */
  private popChosen(): Scheduled | undefined {
    const first = this.pop();
    const due: Scheduled[] = [];
    for (let e: Scheduled | undefined = first; e; e = this.heap.length > 0 && (this.heap[0] as Scheduled).at === first.at ? this.pop() : undefined) {
      if (this.cancelled.delete(e.id)) continue;
      due.push(e);
    }
    if (due.length === 0) return undefined;
    const labels = [...new Set(due.map((e) => e.label))];
    let chosen = due[0] as Scheduled;
    if (labels.length > 1) {
      const i = (this.scheduler as Scheduler).choose({ key: `order@${first.at}:${labels.join('|')}`, kind: 'order', options: labels, scenarioChoice: 0 });
      chosen = due.find((e) => e.label === labels[i]) as Scheduled;
    }
    for (const e of due) if (e !== chosen) this.push(e);
    return chosen;
  }

  private push(item: Scheduled): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent] as Scheduled)) break;
      heap[i] = heap[parent] as Scheduled;
      i = parent;
    }
    heap[i] = item;
  }

  private pop(): Scheduled {
    const heap = this.heap;
    const top = heap[0] as Scheduled;
    const last = heap.pop() as Scheduled;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let best = last;
        if (l < heap.length && before(heap[l] as Scheduled, best)) {
          m = l;
          best = heap[l] as Scheduled;
        }
        if (r < heap.length && before(heap[r] as Scheduled, best)) {
          m = r;
          best = heap[r] as Scheduled;
        }
        if (m === i) break;
        heap[i] = best;
        i = m;
      }
      heap[i] = last;
    }
    return top;
  }
}

function noop(): void {}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Let every queued job and microtask run (one macrotask turn, twice for chained work). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
