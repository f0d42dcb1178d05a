/**
 * A population's part of a round checkpoint: RUN_DIR/checkpoints/population/round-<r>.msgpack,
 * written with the server's checkpoint of round r (round-checkpoints.ts), aside then renamed, so
 * that it is whole or absent.
 *
 * Each file holds what changed since the previous round's: the adapters of the clients that
 * finished a round since then (none of the others), so the checkpoints of a run grow with the
 * clients that took part, never with the population's count. A resume reads the files of rounds
 * 1..r and keeps each client's latest adapter. Besides: the selector's round-robin cursor (random
 * choices are drawn from the seed and the round), and the clients still in a round at that moment
 * (stragglers, and the round's clients still distilling), which the resumed run brings up again
 * at the time they were and runs through their round as the uninterrupted run did, with the
 * server's messages they heard or were still to hear (docs/populations.md).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replaceFile } from '../core/files.js';
import type { AdapterWeights } from '../core/models/model.js';
import { packCheckpoint, unpackCheckpoint } from './checkpoint-msgpack.js';

/** The population's name where rounds are listed per party (its folder under checkpoints/). */
export const POPULATION_PARTY = 'population';
const FORMAT = 'fedmkt-population-checkpoint';
const VERSION = 1;
const ROUND_FILE = /^round-(\d+)\.msgpack$/;

/** A client in a round at the checkpoint: brought up again at `since`, as it was then. */
export interface LiveAtCut {
  id: string;
  index: number;
  round: number;
  /** Its accuracy is measured after its round. */
  evaluate: boolean;
  /** Clock ms of its selection (when it was brought up). */
  since: number;
  /** Its uplink was still sending a message of an earlier round until then (null: free). */
  uplinkFreeAt: number | null;
}

/** A message of the server's as the transport delivered it, or was to deliver it. */
export interface ServerDelivery {
  /** Clock ms of its delivery. */
  at: number;
  subject: string;
  messageId: string;
  data: Uint8Array;
}

export interface PopulationCut {
  round: number;
  /** Clock ms of the server's checkpoint. */
  at: number;
  /** Round-robin's next client. */
  cursor: number;
  /** Adapters of the clients that finished a round since the previous checkpoint, by client index. */
  adapters: { index: number; tensors: AdapterWeights }[];
  /** Clients in a round at the checkpoint, in the order they were brought up. */
  live: LiveAtCut[];
  /** The server's messages delivered since the first of them was brought up, or still on their way. */
  deliveries: ServerDelivery[];
  /** The server's uplink was still sending until then (null: free). */
  serverUplinkFreeAt: number | null;
}

/** What a resumed population run goes on from: the cut, and every client's latest adapter up to it. */
export interface PopulationResume {
  cut: PopulationCut;
  adapters: Map<number, AdapterWeights>;
}

function populationDir(checkpointsDir: string): string {
  return join(checkpointsDir, POPULATION_PARTY);
}

function roundFile(checkpointsDir: string, round: number): string {
  return join(populationDir(checkpointsDir), `round-${round}.msgpack`);
}

export function writePopulationCheckpoint(checkpointsDir: string, cut: PopulationCut): void {
  mkdirSync(populationDir(checkpointsDir), { recursive: true });
  replaceFile(roundFile(checkpointsDir, cut.round), packCheckpoint({ format: FORMAT, version: VERSION, ...cut }));
}

/** The rounds whose population checkpoint is in `checkpointsDir` (ascending). */
export function populationRounds(checkpointsDir: string): number[] {
  const dir = populationDir(checkpointsDir);
  if (!existsSync(dir)) return [];
  const rounds: number[] = [];
  for (const name of readdirSync(dir)) {
    const match = ROUND_FILE.exec(name);
    if (match) rounds.push(Number(match[1]));
  }
  return rounds.sort((a, b) => a - b);
}

/** Every client's adapter as of round `cut` (from the files of rounds 1..cut), and the cut itself. */
export function populationResume(checkpointsDir: string, cut: number): PopulationResume {
  const adapters = new Map<number, AdapterWeights>();
  let last: PopulationCut | undefined;
  for (let round = 1; round <= cut; round++) {
    const file = roundFile(checkpointsDir, round);
    if (!existsSync(file))
      throw new Error(
        `cannot resume: ${file} is missing (the population's checkpoint of round ${round}: each round's holds the adapters ` +
          `of the clients that finished since the one before, and a resume reads those of every round up to ${cut})`,
      );
    last = readCut(file, round);
    for (const { index, tensors } of last.adapters) adapters.set(index, tensors);
  }
  if (!last) throw new Error(`cannot resume after round ${cut}: a population resumes after a round it checkpointed (1 or later)`);
  return { cut: last, adapters };
}

function readCut(file: string, round: number): PopulationCut {
  let saved: Record<string, unknown>;
  try {
    saved = unpackCheckpoint(readFileSync(file)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`checkpoint ${file}: not a population checkpoint (${(error as Error).message})`);
  }
  const problem = cutProblem(saved, round);
  if (problem) throw new Error(`checkpoint ${file}: ${problem}`);
  const cut = saved as unknown as PopulationCut;
  return {
    round: cut.round,
    at: cut.at,
    cursor: cut.cursor,
    adapters: cut.adapters.map(({ index, tensors }) => ({ index, tensors: copyTensors(tensors) })),
    live: cut.live,
    // Copies: a message's typed arrays are decoded as views where aligned, and the file's buffer need not be.
    deliveries: cut.deliveries.map((d) => ({ at: d.at, subject: d.subject, messageId: d.messageId, data: Uint8Array.from(d.data) })),
    serverUplinkFreeAt: cut.serverUplinkFreeAt,
  };
}

/** What is wrong with a decoded checkpoint of `round`, or null. */
function cutProblem(saved: Record<string, unknown> | null, round: number): string | null {
  if (typeof saved !== 'object' || saved === null || saved.format !== FORMAT) return `not a population checkpoint (no format "${FORMAT}")`;
  if (saved.version !== VERSION) return `version ${String(saved.version)}; this fedmkt reads version ${VERSION}`;
  if (saved.round !== round) return `holds round ${String(saved.round)}, expected ${round} (its name)`;
  const number = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const orNull = (v: unknown) => v === null || number(v);
  if (!number(saved.at) || !Number.isInteger(saved.cursor) || !orNull(saved.serverUplinkFreeAt))
    return 'expected at: number, cursor: integer, serverUplinkFreeAt';
  const { adapters, live, deliveries } = saved as { adapters: unknown; live: unknown; deliveries: unknown };
  if (!Array.isArray(adapters) || !adapters.every((a) => Number.isInteger(a?.index) && tensorsOk(a.tensors)))
    return 'expected adapters: [{ index: integer, tensors: { name: { shape, values: Float32Array } } }]';
  const liveOk = (c: Partial<LiveAtCut> | null) =>
    typeof c?.id === 'string' &&
    Number.isInteger(c.index) &&
    Number.isInteger(c.round) &&
    typeof c.evaluate === 'boolean' &&
    number(c.since) &&
    orNull(c.uplinkFreeAt);
  if (!Array.isArray(live) || !live.every(liveOk)) return 'expected live: [{ id, index, round, evaluate, since, uplinkFreeAt }]';
  const deliveryOk = (d: Partial<ServerDelivery> | null) =>
    number(d?.at) && typeof d?.subject === 'string' && typeof d.messageId === 'string' && d.data instanceof Uint8Array;
  if (!Array.isArray(deliveries) || !deliveries.every(deliveryOk)) return 'expected deliveries: [{ at, subject, messageId, data: bytes }]';
  return null;
}

function tensorsOk(tensors: unknown): boolean {
  if (typeof tensors !== 'object' || tensors === null) return false;
  return Object.values(tensors).every((t: { shape?: unknown; values?: unknown }) => {
    const shape = t?.shape;
    const size = Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0) ? shape.reduce((a: number, b: number) => a * b, 1) : -1;
    return t.values instanceof Float32Array && t.values.length === size;
  });
}

function copyTensors(tensors: AdapterWeights): AdapterWeights {
  return Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, { shape: [...t.shape], values: Float32Array.from(t.values) }]));
}
