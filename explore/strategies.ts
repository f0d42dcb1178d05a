/**
 * How an exploration picks its schedules. The seeded strategies make schedule i from
 * (seed, i) alone, so schedules can run in any order, in worker threads or on other machines:
 *
 *   random  each schedule aims at 1..K added faults spread over the run, each at a uniformly
 *           drawn point and of a uniformly drawn kind; simultaneous events in random order;
 *   pct     probabilistic concurrency testing (Burckhardt et al. 2010): actors get random
 *           priorities and the highest-priority actor's event goes first; at d - 1 random steps
 *           the running actor drops to the lowest priority, or, at a fault point, a fault is
 *           added: a bug needing d such steps is found with probability >= 1/(n k^(d-1));
 *   swarm   each schedule enables a random subset of fault kinds, each at its own random rate
 *           (swarm testing, Groce et al. 2012, as TigerBeetle's VOPR does);
 *
 * and all draw the scenario's own random rules with their probabilities. Every strategy adds at
 * most K faults to a run. The exhaustive strategy is in exhaustive.ts.
 */
import { Random } from '../core/random.js';
import { quietChoice, type ChoicePoint, type Scheduler } from '../core/schedule/choices.js';
import { FAULT_KINDS, parseOption, type FaultKind } from '../core/schedule/fault-space.js';

export type SeededStrategy = 'random' | 'pct' | 'swarm';
export type StrategyName = SeededStrategy | 'exhaustive';
export const STRATEGIES: readonly StrategyName[] = ['random', 'pct', 'swarm', 'exhaustive'];

export interface StrategySettings {
  seed: number;
  /** Most faults a schedule adds. */
  maxFaults: number;
  /** PCT's bug depth d. */
  depth: number;
  /** Fault points (message and actor) in a run of the scenario without added faults. */
  faultPoints: number;
  /** All choice points of such a run (PCT's k). */
  steps: number;
}

/** The scheduler of schedule `index`. */
export function seededScheduler(strategy: SeededStrategy, settings: StrategySettings, index: number): Scheduler {
  const rng = Random.stream(settings.seed, `explore/${strategy}/${index}`);
  switch (strategy) {
    case 'random':
      return randomScheduler(rng, settings);
    case 'pct':
      return pctScheduler(rng, settings);
    case 'swarm':
      return swarmScheduler(rng, settings);
  }
}

/** A scenario rule's draw, with the rule's own probabilities. */
function drawRule(point: ChoicePoint, rng: Random): number {
  const w = point.weights;
  if (!w) return point.scenarioChoice;
  let u = rng.next();
  for (let i = 0; i < w.length; i++) {
    u -= w[i] as number;
    if (u < 0) return i;
  }
  return w.length - 1;
}

/** Indices of a point's fault options (all but the quiet one). */
function faultOptions(point: ChoicePoint): number[] {
  const quiet = quietChoice(point);
  return point.options.map((_, i) => i).filter((i) => i !== quiet);
}

function randomScheduler(rng: Random, s: StrategySettings): Scheduler {
  const target = s.maxFaults > 0 ? 1 + rng.int(s.maxFaults) : 0;
  const rate = target / Math.max(1, s.faultPoints);
  let added = 0;
  return {
    choose(point) {
      if (point.kind === 'order') return rng.int(point.options.length);
      if (point.kind === 'rule') return drawRule(point, rng);
      if (added >= target || rng.next() >= rate) return quietChoice(point);
      const options = faultOptions(point);
      if (options.length === 0) return quietChoice(point);
      added++;
      return options[rng.int(options.length)] as number;
    },
  };
}

function swarmScheduler(rng: Random, s: StrategySettings): Scheduler {
  let kinds = FAULT_KINDS.filter(() => rng.next() < 0.5);
  if (kinds.length === 0) kinds = [FAULT_KINDS[rng.int(FAULT_KINDS.length)] as FaultKind];
  const rates = new Map<FaultKind, number>(kinds.map((k) => [k, (rng.next() * 2 * Math.max(1, s.maxFaults)) / Math.max(1, s.faultPoints)]));
  let added = 0;
  return {
    choose(point) {
      if (point.kind === 'order') return rng.int(point.options.length);
      if (point.kind === 'rule') return drawRule(point, rng);
      if (added >= s.maxFaults) return quietChoice(point);
      for (const i of shuffled(faultOptions(point), rng)) {
        const rate = rates.get(parseOption(point.options[i] as string).kind as FaultKind);
        if (rate !== undefined && rng.next() < rate) {
          added++;
          return i;
        }
      }
      return quietChoice(point);
    },
  };
}

/** The actor whose event a clock label is: its owner for PCT's priorities. */
export function ownerOf(label: string): string {
  if (label.startsWith('net:')) {
    const tokens = label.slice(4).split('.');
    return tokens.length >= 5 ? (tokens[4] as string) : 'server';
  }
  if (label.startsWith('fault:')) return label.slice(label.lastIndexOf('>') + 1) || 'network';
  if (label.startsWith('partition:')) return 'network';
  return label.split(':')[0] as string;
}

function pctScheduler(rng: Random, s: StrategySettings): Scheduler {
  const priority = new Map<string, number>();
  let lowest = 0;
  const priorityOf = (owner: string) => {
    let p = priority.get(owner);
    if (p === undefined) priority.set(owner, (p = 1 + rng.next()));
    return p;
  };
  const k = Math.max(1, s.steps);
  const changes = new Set(Array.from({ length: Math.max(0, s.depth - 1) }, () => 1 + rng.int(k)));
  let step = 0;
  let added = 0;
  return {
    choose(point) {
      if (point.kind === 'rule') return drawRule(point, rng);
      step++;
      const change = changes.has(step);
      if (point.kind === 'order') {
        let best = 0;
        for (let i = 1; i < point.options.length; i++)
          if (priorityOf(ownerOf(point.options[i] as string)) > priorityOf(ownerOf(point.options[best] as string))) best = i;
        // A priority change point: the actor that would run drops below every other.
        if (change) priority.set(ownerOf(point.options[best] as string), (lowest -= 1));
        return best;
      }
      if (!change || added >= s.maxFaults) return quietChoice(point);
      const options = faultOptions(point);
      if (options.length === 0) return quietChoice(point);
      added++;
      return options[rng.int(options.length)] as number;
    },
  };
}

function shuffled<T>(xs: T[], rng: Random): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
