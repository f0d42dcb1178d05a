import type { Clock, TimerId } from './clock.js';

interface Scheduled {
  at: number;
  seq: number;
  id: TimerId;
  fire: () => void | Promise<void>;
}

/**
 * A discrete-event scheduler. Events fire in (time, insertion) order; after each one the
 * scheduler waits for the JavaScript job queue to drain, so that everything an event causes
 * (XState transitions, promise continuations) settles before virtual time moves on. Real
 * computation started by {@link charge} runs meanwhile; its result is released only when
 * virtual time reaches the charged completion time. Hence a seeded run replays exactly, and
 * a 10-minute straggler costs no wall time.
 */
export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private nextId = 1;
  private readonly heap: Scheduled[] = [];
  private readonly cancelled = new Set<TimerId>();
  private running = false;

  /** `startMs`: where virtual time begins (a resumed run goes on from its checkpoint's time). */
  constructor(startMs = 0) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    return this.schedule(ms, fn);
  }

  clearTimeout(id: TimerId): void {
    this.cancelled.add(id);
  }

  charge<T>(durationMs: number, work: () => Promise<T>): Promise<T> {
    const result = work();
    // Avoid an unhandled rejection before the completion event awaits it.
    result.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      this.schedule(durationMs, async () => {
        try {
          resolve(await result);
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** Number of events still queued (cancelled ones included until they surface). */
  get pending(): number {
    return this.heap.length;
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
        const next = this.pop();
        if (this.cancelled.delete(next.id)) continue;
        if (options.limitMs !== undefined && next.at > options.limitMs) {
          this.push(next);
          break;
        }
        if (options.pace && next.at > this.time) await sleep(Math.min(1000, (next.at - this.time) / options.pace));
        this.time = next.at;
        await next.fire();
        await settle();
      }
      return this.time;
    } finally {
      this.running = false;
    }
  }

  private schedule(ms: number, fire: () => void | Promise<void>): TimerId {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`VirtualClock: invalid delay ${ms} ms`);
    const id = this.nextId++;
    this.push({ at: this.time + ms, seq: this.seq++, id, fire });
    return id;
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

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Let every queued job and microtask run (one macrotask turn, twice for chained work). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
