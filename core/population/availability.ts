/**
 * When each client of a population can be reached: always, a synthetic diurnal model drawn
 * lazily per client from the seed, or a replayed trace. Nothing is held per client: a trace is
 * the file's packed table, the synthetic model regenerates a client's day from its stream.
 */
import { Random } from '../random.js';
import type { AvailabilityModel } from '../scenario/population-schema.js';
import { readAvailabilityTrace, type AvailabilityTable } from './traces.js';

export interface Availability {
  /** Client `index` is online at `t` (ms) until the returned time (Infinity: for good); null: offline at `t`. */
  onlineUntil(index: number, t: number): number | null;
  /** Whether every client is always online (no draws needed). */
  readonly alwaysOn: boolean;
}

const ALWAYS: Availability = { onlineUntil: () => Number.POSITIVE_INFINITY, alwaysOn: true };

export function availabilityOf(model: AvailabilityModel, seed: number): Availability {
  if (model === 'always-on') return ALWAYS;
  if ('trace' in model) return traceAvailability(readAvailabilityTrace(model.trace));
  return diurnalAvailability(seed, model.diurnal);
}

/** Replays trace device `index mod devices`, cyclic over its finish time (FedScale's rule). */
export function traceAvailability(table: AvailabilityTable): Availability {
  const devices = table.ids.length;
  return {
    alwaysOn: false,
    onlineUntil(index, t) {
      const d = index % devices;
      const period = table.finishTime[d]! * 1000;
      const cycle = Math.floor(t / period);
      const at = (t - cycle * period) / 1000;
      const k = intervalAt(table, d, at);
      return k < 0 ? null : cycle * period + table.inactive[k]! * 1000;
    },
  };
}

/** Index of device d's interval holding `s` seconds (-1: none); binary search. */
function intervalAt(table: AvailabilityTable, d: number, s: number): number {
  let lo = table.offsets[d]!;
  let hi = table.offsets[d + 1]! - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (table.active[mid]! > s) hi = mid - 1;
    else if (table.inactive[mid]! < s) lo = mid + 1;
    else return mid;
  }
  return -1;
}

interface Diurnal {
  periodMs: number;
  onlineFraction: number;
  sessionMs: number;
}

/**
 * Each client has a peak hour (uniform over the day) and its own online share (lognormal around
 * `onlineFraction`); its day is sessions of heavy-tailed length (Pareto, shape 1.5, mean
 * `sessionMs`) with gaps that are short near its peak hour and long opposite it. The same day
 * repeats: a client's plan is a pure function of the seed and its index.
 */
export function diurnalAvailability(seed: number, model: Diurnal): Availability {
  const { periodMs } = model;
  return {
    alwaysOn: false,
    onlineUntil(index, t) {
      const sessions = dayOf(seed, index, model);
      const cycle = Math.floor(t / periodMs);
      const at = t - cycle * periodMs;
      // Sessions may run past the period's end: they wrap to the next day's start.
      for (let k = 0; k < sessions.length; k += 2) {
        const from = sessions[k]!;
        const to = sessions[k + 1]!;
        if (at >= from && at < to) return cycle * periodMs + to;
        if (to > periodMs && at < to - periodMs) return cycle * periodMs + to - periodMs;
      }
      return null;
    },
  };
}

/** Start and end (ms within the day) of each online session of one client, flattened. */
function dayOf(seed: number, index: number, { periodMs, onlineFraction, sessionMs }: Diurnal): Float64Array {
  const rng = Random.stream(seed, `population/availability/${index}`);
  const peak = rng.next() * periodMs;
  const share = Math.min(0.98, Math.max(0.02, onlineFraction * Math.exp(0.5 * rng.normal() - 0.125)));
  const alpha = 1.5;
  const scale = (sessionMs * (alpha - 1)) / alpha;
  const meanGap = (sessionMs * (1 - share)) / share;
  const out: number[] = [];
  let t = rng.next() * meanGap;
  while (t < periodMs && out.length < 512) {
    const length = Math.min(periodMs, scale / (1 - rng.next()) ** (1 / alpha));
    out.push(t, t + length);
    const phase = Math.cos((2 * Math.PI * (t + length - peak)) / periodMs);
    t += length - meanGap * (1 - 0.8 * phase) * Math.log(1 - rng.next());
  }
  return Float64Array.from(out);
}
