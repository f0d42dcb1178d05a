/**
 * One scheduler for every nondeterministic choice of a run on the virtual clock: which of
 * several events due at the same time goes first, whether a probabilistic fault rule applies
 * to a message or a client, and which fault (if any) the explorer adds at a message delivery
 * or at an actor's entry into a state. A run is fully determined by its scenario plus the
 * choices made, so a recorded list of choices replays it exactly (`fedmkt run --schedule`).
 *
 * Each choice point has a key, unique within a run and stable across runs that agree up to
 * it; schedules are keyed on it. Option 0 of a fault point is always "no fault"; that of an
 * order point is the event scheduled first.
 */

/** `order`: events due at once; `rule`: a scenario rule's random draw; `message`, `actor`: where the explorer may add a fault. */
type ChoiceKind = 'order' | 'rule' | 'message' | 'actor';

export interface ChoicePoint {
  key: string;
  kind: ChoiceKind;
  /** Option names (`none`, `drop`, `delay:30000`, `crash:1000`, `apply`, an event label, ...). */
  options: readonly string[];
  /** What the scenario alone picks: its rules' seeded draws, the first-scheduled event, no added fault. */
  scenarioChoice: number;
  /** `rule` points: each option's probability under the scenario (what random strategies draw from). */
  weights?: readonly number[];
  /** The actor the choice happens to (receiver, or the actor entering a state), its state and round. */
  actor?: string;
  state?: string;
  round?: number;
  /** Clock time of the choice. */
  t?: number;
  /** `rule` and `message` points: the message being delivered (to `actor`), the nth of its type, sender, receiver and round. */
  message?: { type: string; from: string; round: number; nth: number };
}

export interface Scheduler {
  /** The index of the option taken at this point. */
  choose(point: ChoicePoint): number;
}

/** A run as the scenario alone makes it: every point takes its scenario choice. */
export const scenarioScheduler: Scheduler = { choose: (point) => point.scenarioChoice };

/** One choice of a recorded schedule: the option taken at the point with this key. */
export interface ScheduledChoice {
  key: string;
  choice: string;
}

/**
 * What `fedmkt run --schedule FILE` reads. Points not listed take their "nothing happens"
 * option: no added fault, a rule's draw not applied, the first-scheduled event first.
 */
export interface ScheduleFile {
  format: 'fedmkt-schedule';
  version: 1;
  /** The scenario's name and seed, to refuse a schedule recorded for another one. */
  scenario: string;
  seed: number;
  choices: ScheduledChoice[];
}

/** The option a point takes when nothing is said about it. */
export function quietChoice(point: ChoicePoint): number {
  if (point.kind === 'rule') {
    const skip = point.options.indexOf('skip');
    return Math.max(skip, 0);
  }
  return 0;
}

/** Whether taking `option` at `point` injects a fault (a rule applied, or a fault added). */
export function isFault(point: ChoicePoint, option: number): boolean {
  if (point.kind === 'order') return false;
  return option !== quietChoice(point);
}

/**
 * Replays a schedule: each listed key takes its recorded option (by name), every other point
 * its quiet option. Keys the run never reached, and recorded options a point does not offer,
 * are collected so a caller can say the schedule did not fit the run.
 */
export class ReplayScheduler implements Scheduler {
  private readonly wanted: Map<string, string>;
  readonly used = new Set<string>();
  readonly mismatches: { key: string; choice: string; options: readonly string[] }[] = [];

  constructor(choices: readonly ScheduledChoice[]) {
    this.wanted = new Map(choices.map((c) => [c.key, c.choice]));
  }

  choose(point: ChoicePoint): number {
    const want = this.wanted.get(point.key);
    if (want === undefined) return quietChoice(point);
    this.used.add(point.key);
    const i = point.options.indexOf(want);
    if (i < 0) {
      this.mismatches.push({ key: point.key, choice: want, options: point.options });
      return quietChoice(point);
    }
    return i;
  }

  /** Listed keys no point of the run had. */
  unreached(): string[] {
    return [...this.wanted.keys()].filter((k) => !this.used.has(k));
  }
}

/** A choice as made in a run: the point and the option taken. */
export interface MadeChoice {
  point: ChoicePoint;
  option: number;
}

/** Wraps a scheduler and keeps every choice it makes, in order. */
export class RecordingScheduler implements Scheduler {
  readonly made: MadeChoice[] = [];

  constructor(private readonly inner: Scheduler) {}

  choose(point: ChoicePoint): number {
    const option = this.inner.choose(point);
    if (!Number.isInteger(option) || option < 0 || option >= point.options.length)
      throw new Error(`scheduler chose option ${option} at ${point.key}, which offers ${point.options.length}`);
    this.made.push({ point, option });
    return option;
  }

  /** The choices that differ from the quiet ones: what a schedule file must list to replay the run. */
  schedule(): ScheduledChoice[] {
    return this.made.filter((m) => m.option !== quietChoice(m.point)).map((m) => ({ key: m.point.key, choice: m.point.options[m.option] as string }));
  }
}

/** Parse a schedule file's JSON; errors name the file and the field. */
export function parseScheduleFile(text: string, file: string): ScheduleFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not JSON (${(error as Error).message})`);
  }
  const fail = (what: string): never => {
    throw new Error(`${file}: ${what}`);
  };
  if (typeof doc !== 'object' || doc === null) return fail('expected an object');
  const d = doc as Record<string, unknown>;
  if (d.format !== 'fedmkt-schedule') fail(`format: expected "fedmkt-schedule", got ${JSON.stringify(d.format)}`);
  if (d.version !== 1) fail(`version: expected 1, got ${JSON.stringify(d.version)}`);
  if (typeof d.scenario !== 'string') fail('scenario: expected the scenario name');
  if (typeof d.seed !== 'number') fail('seed: expected a number');
  if (!Array.isArray(d.choices)) return fail('choices: expected a list');
  const choices = d.choices.map((c: unknown, i: number) => {
    const entry = c as Record<string, unknown> | null;
    if (!entry || typeof entry.key !== 'string' || typeof entry.choice !== 'string') return fail(`choices[${i}]: expected { key, choice } strings`);
    return { key: entry.key, choice: entry.choice };
  });
  return { format: 'fedmkt-schedule', version: 1, scenario: d.scenario as string, seed: d.seed as number, choices };
}
