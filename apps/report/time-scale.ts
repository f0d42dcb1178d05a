/**
 * A time axis that squeezes idle stretches. Deadlines are minutes while the work between
 * them is seconds, so on a linear axis a run with one missed deadline is a thin sliver of
 * work beside a wide empty band. Stretches in which nothing at all is recorded and that are
 * longer than a few percent of the run are drawn at a small fixed width and marked.
 */

interface Segment {
  t0: number;
  t1: number;
  u0: number;
  u1: number;
  gap: boolean;
}

export interface Gap {
  t0: number;
  t1: number;
  u0: number;
  u1: number;
}

export class TimeScale {
  /** Display units: ms of the run, less what the gaps lost. */
  readonly U: number;
  readonly gaps: Gap[];

  constructor(
    readonly t0: number,
    readonly t1: number,
    private readonly segments: readonly Segment[],
  ) {
    this.U = segments.length ? segments[segments.length - 1]!.u1 : t1 - t0;
    this.gaps = segments.filter((s) => s.gap).map(({ t0: a, t1: b, u0, u1 }) => ({ t0: a, t1: b, u0, u1 }));
  }

  /** Time to display units, in [0, U]. */
  u(t: number): number {
    const segs = this.segments;
    if (segs.length === 0) return t - this.t0;
    if (t <= segs[0]!.t0) return 0;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.t0 <= t) lo = mid;
      else hi = mid - 1;
    }
    const s = segs[lo]!;
    if (t >= s.t1) return s.u1;
    return s.u0 + ((t - s.t0) / (s.t1 - s.t0 || 1)) * (s.u1 - s.u0);
  }

  /** Display units back to time. */
  t(u: number): number {
    const segs = this.segments;
    if (segs.length === 0) return this.t0 + u;
    for (const s of segs) if (u <= s.u1) return s.t0 + ((u - s.u0) / (s.u1 - s.u0 || 1)) * (s.t1 - s.t0);
    return this.t1;
  }

  /** The non-gap stretches, for ticks. */
  active(): { t0: number; t1: number; u0: number; u1: number }[] {
    return this.segments.filter((s) => !s.gap);
  }
}

/**
 * `times`: every recorded time (any order). A stretch with no recorded time, longer than
 * `minGapShare` of the run, in which no actor is busy (`busy`: merged, sorted intervals of
 * working states) becomes a gap drawn `gapShare` of the active time wide.
 */
export function timeScale(
  times: ArrayLike<number>,
  t0: number,
  t1: number,
  options: { compress?: boolean; busy?: readonly [number, number][]; minGapShare?: number; gapShare?: number } = {},
): TimeScale {
  const { compress = true, busy = [], minGapShare = 0.1, gapShare = 0.025 } = options;
  const span = Math.max(t1 - t0, 1);
  const linear = () => new TimeScale(t0, t0 + span, [{ t0, t1: t0 + span, u0: 0, u1: span, gap: false }]);
  if (!compress || times.length < 2) return linear();
  const sorted = Float64Array.from(times).sort();
  const gaps: [number, number][] = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b - a > span * minGapShare && busyWithin(busy, a, b) < 0.01 * (b - a)) gaps.push([a, b]);
  }
  if (gaps.length === 0) return linear();
  const active = span - gaps.reduce((s, [a, b]) => s + (b - a), 0);
  const segments: Segment[] = [];
  let u = 0;
  let cursor = t0;
  for (const [a, b] of gaps) {
    if (a > cursor) {
      segments.push({ t0: cursor, t1: a, u0: u, u1: u + (a - cursor), gap: false });
      u += a - cursor;
    }
    const w = Math.min(b - a, Math.max(active * gapShare, span * 0.002));
    segments.push({ t0: a, t1: b, u0: u, u1: u + w, gap: true });
    u += w;
    cursor = b;
  }
  if (t0 + span > cursor) segments.push({ t0: cursor, t1: t0 + span, u0: u, u1: u + (t0 + span - cursor), gap: false });
  return new TimeScale(t0, t0 + span, segments);
}

/** Merge intervals into a sorted list of disjoint ones. */
export function mergeIntervals(intervals: [number, number][]): [number, number][] {
  intervals.sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of intervals) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** How much of [a, b] the merged, sorted `busy` intervals cover. */
function busyWithin(busy: readonly [number, number][], a: number, b: number): number {
  let lo = 0;
  let hi = busy.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (busy[mid]![1] <= a) lo = mid + 1;
    else hi = mid;
  }
  let covered = 0;
  for (let i = lo; i < busy.length && busy[i]![0] < b; i++) covered += Math.min(b, busy[i]![1]) - Math.max(a, busy[i]![0]);
  return covered;
}
