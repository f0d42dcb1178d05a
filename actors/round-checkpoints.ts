/**
 * Round checkpoints, and resuming a run from them.
 *
 * After evaluating round r, every actor writes RUN_DIR/checkpoints/<actor>/round-<r>/: its
 * model as `model.save` writes it (base and adapter safetensors, config with the count of
 * random draws so far: core/models/checkpoint.ts) and `actor.json` (the round, the clock time,
 * the number of events recorded so far, the actor-side counters: message sequence, bytes). The folder appears whole or not at all
 * (written aside, then renamed), so a run killed mid-save leaves the previous round usable.
 *
 * `fedmkt run --resume RUN_DIR` picks the latest round r that every actor checkpointed, keeps
 * the records of the killed run up to each actor's checkpoint, and starts the actors at round
 * r + 1 on a clock set to the latest of those checkpoints' times. Learning replays exactly: a
 * checkpoint holds the model's count of random draws, and every other draw is keyed by round.
 *
 * A population's clients are no actors with checkpoints of their own: with the server's checkpoint
 * of round r goes RUN_DIR/checkpoints/population/round-<r>.msgpack (docs/populations.md), the
 * adapters of the clients that finished a round since the previous one, the selector's cursor,
 * and the clients still busy at that moment with what the server had sent them.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../core/clock/clock.js';
import { splitJsonl } from '../core/jsonl.js';
import { checkpointProblem } from '../core/models/checkpoint-check.js';
import type { LanguageModel } from '../core/models/model.js';
import type { PublicLogits } from '../core/protocol/messages.js';
import { packCheckpoint, unpackCheckpoint } from './checkpoint-msgpack.js';
import { residentScenario } from '../core/population/population.js';
import type { Scenario } from '../core/scenario/schema.js';
import {
  POPULATION_PARTY,
  populationResume,
  populationRounds,
  writePopulationCheckpoint,
  type PopulationCut,
  type PopulationResume,
} from './population-checkpoints.js';
import type { RunRecords } from './run-recorder.js';
import type { RunEvent, RoundMetrics, Timing } from '../core/records.js';

/** What an actor does with checkpoints: save one after each round. */
export interface RoundCheckpointing {
  /** `recorded`: events in the run's trace so far; `local`: the actor-side counters. */
  save(round: number, state: { recorded: number; local: Record<string, unknown> }): Promise<void>;
}

/** What one actor of a resumed run goes on from. */
export interface ActorResume {
  /** The round whose checkpoint the run resumes from. */
  afterRound: number;
  /** The actor-side counters saved with that checkpoint. */
  local: Record<string, unknown> | undefined;
  /** The highest message sequence number this actor used in the run it resumes: new ids go on from there. */
  usedSequence: number;
}

/** One actor's checkpoint of one round. */
interface ActorCheckpoint {
  round: number;
  /** Clock ms at which it was written. */
  at: number;
  /** Events in the run's trace (events.jsonl lines) when it was written. */
  recorded: number;
  /** The model folder (`model.save` layout), for the learning stack to restore. */
  dir: string;
  local: Record<string, unknown>;
}

export interface ResumePoint {
  /** The server's latest checkpointed round: the resumed run opens round `afterRound + 1`. */
  afterRound: number;
  /** Clock ms the resumed run starts at: the latest of the chosen checkpoints. */
  at: number;
  /** Per actor, the checkpoint of round `afterRound` it resumes from. */
  actors: Record<string, ActorCheckpoint | undefined>;
  /**
   * Per actor, message sequence numbers known to be used before the resume, beyond those the
   * records show (a replay of a resumed run: the killed run's later records are gone).
   */
  usedSequence?: Record<string, number>;
  /** A population's state at the server's checkpoint of `afterRound`. */
  population?: PopulationResume;
}

/** Who writes the checkpoints a run of `scenario` resumes from: its actors, and its population if it has one. */
export interface CheckpointParties {
  actors: readonly string[];
  population: boolean;
  /** Actors without a model (`model: null`): their checkpoints hold none to read back. */
  modelless: readonly string[];
}

/** The checkpointing parties of a run of `scenario` (a population every client of which takes part each round runs as its clients listed). */
export function checkpointParties(scenario: Scenario): CheckpointParties {
  const resident = residentScenario(scenario);
  const modelless = [...(resident.server.model === null ? ['server'] : []), ...resident.clients.filter((c) => c.model === null).map((c) => c.id)];
  return { actors: ['server', ...resident.clients.map((c) => c.id)], population: resident.population !== undefined, modelless };
}

const ACTOR_FILE = 'actor.json';
const OWN_LOGITS_FILE = 'own-logits.msgpack';
const ROUND_DIR = /^round-(\d+)$/;

function checkpointsDir(runDir: string): string {
  return join(runDir, 'checkpoints');
}

/** The checkpoint writer of one actor. */
export function actorCheckpoints(
  runDir: string,
  actor: string,
  model: LanguageModel,
  clock: Clock,
  also: {
    /** The server's public logits of its current weights, when computed (kept in `own-logits.msgpack`). */
    ownLogits?: () => PublicLogits | null;
    /** A population run's server: with each of its checkpoints goes the population's, taken at the same moment. */
    population?: { checkpoint(round: number): PopulationCut };
  } = {},
): RoundCheckpointing {
  const dir = join(checkpointsDir(runDir), actor);
  return {
    async save(round, { recorded, local }) {
      const cut = also.population?.checkpoint(round);
      const own = also.ownLogits?.() ?? null;
      mkdirSync(dir, { recursive: true });
      const final = join(dir, `round-${round}`);
      const partial = `${final}.partial`;
      rmSync(partial, { recursive: true, force: true });
      await model.save(partial);
      if (own) writeFileSync(join(partial, OWN_LOGITS_FILE), packCheckpoint(own));
      writeFileSync(join(partial, ACTOR_FILE), `${JSON.stringify({ round, at: clock.now(), recorded, local })}\n`);
      rmSync(final, { recursive: true, force: true });
      renameSync(partial, final);
      if (cut) writePopulationCheckpoint(checkpointsDir(runDir), cut);
    },
  };
}

/** The server's public logits kept with its checkpoint in `dir` (null: none were computed). */
export function checkpointOwnLogits(dir: string): PublicLogits | null {
  const file = join(dir, OWN_LOGITS_FILE);
  if (!existsSync(file)) return null;
  let logits: Partial<PublicLogits>;
  try {
    logits = unpackCheckpoint(readFileSync(file)) as Partial<PublicLogits>;
  } catch (error) {
    throw new Error(`checkpoint ${file}: not readable (${(error as Error).message})`);
  }
  const arrays = [logits.lengths, logits.tokenIds, logits.topKIds].every((a) => a instanceof Int32Array);
  if (
    typeof logits.tokenizer !== 'string' ||
    !Number.isInteger(logits.topK) ||
    !arrays ||
    !(logits.topKLogits instanceof Float32Array) ||
    !(logits.ce instanceof Float32Array)
  )
    throw new Error(`checkpoint ${file}: expected public logits { tokenizer, topK, lengths, tokenIds, topKIds, topKLogits, ce }`);
  return logits as PublicLogits;
}

/** An actor's complete checkpoints, by round. */
function checkpointsOf(runDir: string, actor: string): ActorCheckpoint[] {
  const dir = join(checkpointsDir(runDir), actor);
  if (!existsSync(dir)) return [];
  const found: ActorCheckpoint[] = [];
  for (const name of readdirSync(dir)) {
    const match = ROUND_DIR.exec(name);
    if (!match) continue;
    const file = join(dir, name, ACTOR_FILE);
    if (!existsSync(file)) continue;
    let saved: { round?: unknown; at?: unknown; recorded?: unknown; local?: unknown };
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as typeof saved;
    } catch (error) {
      throw new Error(`checkpoint ${file}: not valid JSON (${(error as Error).message})`);
    }
    const round = Number(match[1]);
    const { at, recorded, local } = saved;
    if (saved.round !== round || typeof at !== 'number' || !Number.isInteger(recorded) || typeof local !== 'object' || local === null) {
      throw new Error(`checkpoint ${file}: expected { round: ${round}, at: number, recorded: integer, local: object }`);
    }
    found.push({ round, at, recorded: recorded as number, dir: join(dir, name), local: local as Record<string, unknown> });
  }
  return found.sort((a, b) => a.round - b.round);
}

/** Per actor (and the population, with `population`), the rounds it checkpointed in `runDir` (ascending). */
export function checkpointedRounds(runDir: string, actors: readonly string[], population = false): Record<string, number[]> {
  const rounds: Record<string, number[]> = Object.fromEntries(actors.map((id) => [id, checkpointsOf(runDir, id).map((c) => c.round)]));
  if (population) rounds[POPULATION_PARTY] = populationRounds(checkpointsDir(runDir));
  return rounds;
}

/**
 * The latest round that every actor checkpointed (a consistent cut: everything each actor learned
 * up to it is saved; the rounds after it are run again). Throws, naming each actor's rounds, when
 * there is none.
 */
export function commonRound(rounds: Record<string, readonly number[]>, where: string): number {
  const lists = Object.values(rounds);
  const cut = (lists[0] ?? []).filter((round) => lists.every((list) => list.includes(round))).at(-1);
  if (cut === undefined) {
    const listed = Object.entries(rounds)
      .map(([id, list]) => `${id}: ${list.join(',') || 'none'}`)
      .join('; ');
    throw new Error(
      `cannot resume ${where}: no round was checkpointed by every actor (rounds per actor: ${listed}). ` +
        'An actor checkpoints a round it finished; the run ended before its first round did, ran without checkpoints, or ' +
        'dropouts and crashes left no round in common: run it again from the start',
    );
  }
  return cut;
}

/** Where a run in `runDir` resumes: the latest round every actor (and the population, with `population`) checkpointed. */
export function resumePoint(runDir: string, actors: readonly string[], population = false): ResumePoint {
  const cut = commonRound(checkpointedRounds(runDir, actors, population), `${runDir} (${checkpointsDir(runDir)})`);
  return resumePointAt(runDir, actors, cut, population);
}

/** The resume point of `actors` (those whose checkpoints are in `runDir`) after round `cut`, with the population's when `population`. */
export function resumePointAt(runDir: string, actors: readonly string[], cut: number, population = false): ResumePoint {
  const point = actorsResumePointAt(runDir, actors, cut);
  if (!population) return point;
  const state = populationResume(checkpointsDir(runDir), cut);
  if (state.cut.at !== point.at)
    throw new Error(
      `cannot resume ${runDir}: the population's checkpoint of round ${cut} was taken at ${state.cut.at} ms, the server's at ${point.at} ms: not of the same run`,
    );
  return { ...point, population: state };
}

function actorsResumePointAt(runDir: string, actors: readonly string[], cut: number): ResumePoint {
  const found = new Map(actors.map((id) => [id, checkpointsOf(runDir, id)] as const));
  for (const id of actors) {
    if (!found.get(id)?.some((c) => c.round === cut))
      throw new Error(`cannot resume ${runDir}: ${id} has no checkpoint of round ${cut} in ${checkpointsDir(runDir)}`);
  }
  const chosen: Record<string, ActorCheckpoint> = {};
  for (const id of actors) chosen[id] = found.get(id)!.find((c) => c.round === cut)!;
  return { afterRound: cut, at: Math.max(...Object.values(chosen).map((c) => c.at)), actors: chosen };
}

/**
 * The records of the killed run that the resumed one keeps: each actor's events of the rounds
 * its checkpoint covers and recorded before it (a client without one: before the server's),
 * its metrics and timings of those rounds. What happened after is redone by the resumed run;
 * so is what a client heard of the next round while finishing its own (the announcement of
 * round r + 1, which the resumed server sends again).
 */
export function recordsBeforeResume(runDir: string, point: ResumePoint): { records: RunRecords; usedSequence: Record<string, number> } {
  if (point.population) return populationRecordsBeforeResume(runDir, point, point.population);
  const roundOf = (actor: string): number => point.actors[actor]?.round ?? 0;
  const recordedOf = (actor: string): number => (point.actors[actor] ?? point.actors.server)?.recorded ?? 0;
  const events = readJsonl<RunEvent>(join(runDir, 'events.jsonl'));
  // Message ids are `<sender>:<sequence>`: every id the killed run sent, kept or not, stays its own.
  const usedSequence = usedSequenceOf(events, point.usedSequence);
  return {
    records: {
      events: events.filter((e, line) => line < recordedOf(e.actor) && e.round <= roundOf(e.actor)),
      metrics: readJsonl<RoundMetrics>(join(runDir, 'metrics.jsonl')).filter((m) => m.round <= roundOf(m.actor)),
      timings: readJsonl<Timing>(join(runDir, 'timings.jsonl')).filter((t) => t.round <= roundOf(t.actor)),
    },
    usedSequence,
  };
}

/**
 * A population run's records up to the server's checkpoint: every event before it (the clients'
 * included), the metrics and timings of the rounds it covers but those of clients still busy
 * then, whose rounds the resumed run replays (muted until the checkpoint's time: what they did
 * before it is kept here). The server goes on with the ids after its checkpoint, as the
 * uninterrupted run does: nothing kept names a later one.
 */
function populationRecordsBeforeResume(
  runDir: string,
  point: ResumePoint,
  population: PopulationResume,
): { records: RunRecords; usedSequence: Record<string, number> } {
  const recorded = point.actors.server?.recorded ?? 0;
  const replayed = new Set(population.cut.live.map((c) => `${c.id}/${c.round}`));
  const keep = (row: { actor: string; round: number }) => row.round <= point.afterRound && !replayed.has(`${row.actor}/${row.round}`);
  const events = readJsonl<RunEvent>(join(runDir, 'events.jsonl')).filter((_, line) => line < recorded);
  return {
    records: {
      events,
      metrics: readJsonl<RoundMetrics>(join(runDir, 'metrics.jsonl')).filter(keep),
      timings: readJsonl<Timing>(join(runDir, 'timings.jsonl')).filter(keep),
    },
    usedSequence: usedSequenceOf(events, point.usedSequence),
  };
}

/** Per sender, the highest message sequence number in `events` (or in `known`). */
function usedSequenceOf(events: readonly RunEvent[], known: Record<string, number> | undefined): Record<string, number> {
  const usedSequence: Record<string, number> = { ...known };
  for (const e of events) {
    if (e.kind !== 'send' || typeof e.id !== 'string') continue;
    const sequence = Number(e.id.slice(e.id.lastIndexOf(':') + 1));
    if (Number.isInteger(sequence)) usedSequence[e.actor] = Math.max(usedSequence[e.actor] ?? 0, sequence);
  }
  return usedSequence;
}

/**
 * Checkpoints of rounds after `cut`, which the resumed run writes again: left from the killed
 * run, they would mix with the resumed run's if it were killed in turn before rewriting them.
 */
export function removeCheckpointsAfter(runDir: string, parties: Omit<CheckpointParties, 'modelless'>, cut: number): void {
  const rounds = checkpointedRounds(runDir, parties.actors, parties.population);
  for (const [party, list] of Object.entries(rounds))
    for (const round of list.filter((r) => r > cut)) {
      const name = party === POPULATION_PARTY && parties.population ? `round-${round}.msgpack` : `round-${round}`;
      rmSync(join(checkpointsDir(runDir), party, name), { recursive: true, force: true });
    }
}

/**
 * The records a process restarted in place of a killed one goes on from: each actor's events
 * up to its persisted state (`recordedOf`: events in the trace when it was persisted; all when
 * unknown). What an actor recorded after it is undone by the restart, e.g. an upload accepted
 * as the process died, before its state was saved: it is delivered, and accepted, again.
 */
export function recordsSoFar(runDir: string, recordedOf: (actor: string) => number | undefined): RunRecords {
  return {
    events: readJsonl<RunEvent>(join(runDir, 'events.jsonl')).filter((e, line) => line < (recordedOf(e.actor) ?? Infinity)),
    metrics: readJsonl<RoundMetrics>(join(runDir, 'metrics.jsonl')),
    timings: readJsonl<Timing>(join(runDir, 'timings.jsonl')),
  };
}

/** Rows of a JSON-lines file; a last line cut short by the kill is left out. */
function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const rows: T[] = [];
  for (const [i, line] of splitJsonl(readFileSync(file, 'utf8')).lines.entries()) {
    if (line.trim() === '') continue;
    try {
      rows.push(JSON.parse(line) as T);
    } catch (error) {
      throw new Error(`${file}:${i + 1}: not a JSON record (${(error as Error).message})`);
    }
  }
  return rows;
}

/** The latest round every actor (and the population) checkpointed in `runDir`, or null when there is none (or a checkpoint is unreadable). */
export function checkedCommonRound(runDir: string, actors: readonly string[], population = false): number | null {
  try {
    return commonRound(checkpointedRounds(runDir, actors, population), runDir);
  } catch {
    return null;
  }
}

/** Why the models of a resume point cannot be read back, one line per actor (`modelless` ones have none); empty when they all can. */
export async function unreadableCheckpoints(point: ResumePoint, modelless: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const [actor, checkpoint] of Object.entries(point.actors)) {
    if (!checkpoint || modelless.includes(actor)) continue;
    const why = await checkpointProblem(checkpoint.dir);
    if (why) problems.push(`${actor}'s checkpoint of round ${checkpoint.round} (${checkpoint.dir}) cannot be read: ${why}`);
  }
  return problems;
}
