/**
 * Exhaustive depth-first search over every schedule with at most K added faults: each run
 * replays a prefix of choices, then takes the first option at every new point; the next run
 * changes the deepest choice that has options left (stateless search, as CHESS does, since a
 * running federation cannot be copied). With state hashing, a run reaching a state it has
 * already reached with the same faults left is stopped there: everything after it has been,
 * or will be, explored from the first visit (stateful search, as P's checker does).
 *
 * The scenario's own random rules keep their seeded draws here; only order and added faults
 * branch. Simultaneous events branch too, so configurations must stay small (2 to 3 clients,
 * 1 to 2 rounds).
 */
import { digestOf } from '../core/schedule/digest.js';
import { isFault, quietChoice, type ChoicePoint, type Scheduler } from '../core/schedule/choices.js';

interface Step {
  key: string;
  /** The options this step may take, in the order they are tried. */
  allowed: number[];
  /** Index into `allowed` taken. */
  at: number;
  /** Faults added up to and including this step. */
  faults: number;
}

export interface ExhaustiveStats {
  schedules: number;
  /** Distinct (state, faults left) pairs met at choice points. */
  states: number;
  /** Runs stopped at a state already met. */
  pruned: number;
  /** Every schedule within the bound has been tried. */
  exhausted: boolean;
  /** Deepest choice sequence seen. */
  maxDepth: number;
}

export class ExhaustiveSearch {
  private prefix: Step[] = [];
  private trail: Step[] = [];
  private readonly visited = new Set<string>();
  private world: { digest(): string } | null = null;
  private cut = false;
  private started = false;
  readonly stats: ExhaustiveStats = { schedules: 0, states: 0, pruned: 0, exhausted: false, maxDepth: 0 };

  constructor(
    private readonly maxFaults: number,
    private readonly hashing = true,
  ) {}

  /** The scheduler of the next schedule, or null when the space is exhausted. */
  next(): (Scheduler & { stopWhen(): boolean; onStart(world: { digest(): string }): void }) | null {
    if (this.started && !this.advance()) {
      this.stats.exhausted = true;
      return null;
    }
    this.started = true;
    this.trail = [];
    this.cut = false;
    this.world = null;
    return {
      choose: (point) => this.choose(point),
      stopWhen: () => this.cut,
      onStart: (world) => {
        this.world = world;
      },
    };
  }

  /** After a run: note whether it was stopped early. */
  done(stopped: boolean): void {
    this.stats.schedules++;
    if (stopped) this.stats.pruned++;
    this.stats.maxDepth = Math.max(this.stats.maxDepth, this.trail.length);
  }

  private choose(point: ChoicePoint): number {
    const depth = this.trail.length;
    const faultsSoFar = depth > 0 ? (this.trail[depth - 1] as Step).faults : 0;
    if (depth < this.prefix.length) {
      const step = this.prefix[depth] as Step;
      if (step.key !== point.key)
        throw new Error(
          `exhaustive search: the run diverged from its own prefix at choice ${depth} (${point.key}, expected ${step.key}): is something outside the schedule nondeterministic?`,
        );
      this.trail.push(step);
      return step.allowed[step.at] as number;
    }
    if (this.cut) return quietChoice(point);
    if (this.hashing && this.world) {
      // The point being decided is part of the state: several points can fall within one step of the world.
      const state = `${digestOf(`${point.key}|${this.world.digest()}`)}/${this.maxFaults - faultsSoFar}`;
      if (this.visited.has(state)) {
        this.cut = true;
        return quietChoice(point);
      }
      this.visited.add(state);
      this.stats.states = this.visited.size;
    }
    const allowed = this.allowed(point, faultsSoFar);
    const option = allowed[0] as number;
    this.trail.push({ key: point.key, allowed, at: 0, faults: faultsSoFar + (isFault(point, option) ? 1 : 0) });
    return option;
  }

  /** Options to try at a point: the scenario's draw for its rules; order and (within the bound) faults branch. */
  private allowed(point: ChoicePoint, faultsSoFar: number): number[] {
    if (point.kind === 'rule') return [point.scenarioChoice];
    if (point.kind === 'order') return point.options.map((_, i) => i);
    const quiet = quietChoice(point);
    if (faultsSoFar >= this.maxFaults) return [quiet];
    return [quiet, ...point.options.map((_, i) => i).filter((i) => i !== quiet)];
  }

  /** The prefix of the next schedule: the deepest step with an option left, moved to it. */
  private advance(): boolean {
    const trail = this.trail;
    for (let d = trail.length - 1; d >= 0; d--) {
      const step = trail[d] as Step;
      if (step.at + 1 < step.allowed.length) {
        const before = d > 0 ? (trail[d - 1] as Step).faults : 0;
        const at = step.at + 1;
        this.prefix = [...trail.slice(0, d), { ...step, at, faults: isFaultOption(step, at) ? before + 1 : before }];
        return true;
      }
    }
    return false;
  }
}

/** Whether taking `allowed[at]` at this step adds a fault: every option but the first at a fault point. */
function isFaultOption(step: Step, at: number): boolean {
  // Order points list every option and add no fault; at fault points the first option is the quiet one.
  return !step.key.startsWith('order@') && at > 0;
}
