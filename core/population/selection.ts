/**
 * Which clients of a population the server announces a round to: `announced` of those online
 * at the announcement, drawn from `Random.stream(seed, 'population/select/<round>')`.
 *
 *   random              uniformly among the online clients (FedScale's and Flower's default)
 *   round-robin         the next online clients after the last one chosen, in index order
 *   availability-aware  of three times as many random online clients, those that stay online longest
 *
 * Costs grow with the clients chosen, not the population: candidates are drawn at random and
 * checked, and only when the online ones are too rare to be found that way is the population
 * scanned (from a random point).
 */
import { Random } from '../random.js';
import type { Availability } from './availability.js';

export type SelectionStrategy = 'random' | 'round-robin' | 'availability-aware';

export interface SelectionRequest {
  seed: number;
  round: number;
  /** Virtual ms of the announcement. */
  now: number;
  count: number;
  /** How many to choose. */
  announced: number;
  strategy: SelectionStrategy;
  availability: Availability;
}

export interface SelectionResult {
  /** Indices in announcement order. */
  selected: number[];
  /** Candidates found offline while choosing (a measure of availability, not of the population). */
  offlineSeen: number;
}

/** Chooses each round's clients; round-robin's cursor is all it keeps. */
export class Selector {
  /** `cursor`: round-robin's next client (a resumed run's, from its checkpoint). */
  constructor(private cursor = 0) {}

  /** Round-robin's next client: what a checkpoint keeps of the selector. */
  get position(): number {
    return this.cursor;
  }

  select(request: SelectionRequest): SelectionResult {
    if (request.strategy === 'round-robin') return this.roundRobin(request);
    const rng = Random.stream(request.seed, `population/select/${request.round}`);
    if (request.strategy === 'random') return drawOnline(request, request.announced, rng);
    const pool = drawOnline(request, Math.min(request.count, 3 * request.announced), rng);
    const until = new Map(pool.selected.map((i) => [i, request.availability.onlineUntil(i, request.now) ?? request.now]));
    const ranked = pool.selected.slice().sort((a, b) => until.get(b)! - until.get(a)! || a - b);
    return { selected: ranked.slice(0, request.announced), offlineSeen: pool.offlineSeen };
  }

  private roundRobin({ count, announced, availability, now }: SelectionRequest): SelectionResult {
    const selected: number[] = [];
    let offlineSeen = 0;
    for (let seen = 0; seen < count && selected.length < announced; seen++) {
      const i = this.cursor;
      this.cursor = (this.cursor + 1) % count;
      if (availability.onlineUntil(i, now) === null) offlineSeen++;
      else selected.push(i);
    }
    return { selected, offlineSeen };
  }
}

/** `want` distinct online clients at random (fewer when fewer are online). */
function drawOnline({ count, availability, now }: SelectionRequest, want: number, rng: Random): SelectionResult {
  const chosen = new Set<number>();
  const offline = new Set<number>();
  const selected: number[] = [];
  if (want >= count / 2 && availability.alwaysOn) {
    // Most of the population: a partial shuffle is cheaper than rejection.
    const order = Int32Array.from({ length: count }, (_, i) => i);
    for (let k = 0; k < want; k++) {
      const j = k + rng.int(count - k);
      const t = order[k]!;
      order[k] = order[j]!;
      order[j] = t;
      selected.push(order[k]!);
    }
    return { selected, offlineSeen: 0 };
  }
  const tries = 64 * want;
  for (let t = 0; t < tries && selected.length < want && chosen.size + offline.size < count; t++) {
    const i = rng.int(count);
    if (chosen.has(i) || offline.has(i)) continue;
    if (availability.onlineUntil(i, now) === null) offline.add(i);
    else {
      chosen.add(i);
      selected.push(i);
    }
  }
  if (selected.length < want) {
    // Online clients are rare: look at every client once, from a random point.
    const start = rng.int(count);
    for (let k = 0; k < count && selected.length < want; k++) {
      const i = (start + k) % count;
      if (chosen.has(i) || offline.has(i)) continue;
      if (availability.onlineUntil(i, now) === null) offline.add(i);
      else {
        chosen.add(i);
        selected.push(i);
      }
    }
  }
  return { selected, offlineSeen: offline.size };
}
