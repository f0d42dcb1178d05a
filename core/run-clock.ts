/**
 * Which clock a run's times are on. Local runs record virtual milliseconds from 0; runs over
 * NATS record epoch milliseconds of the wall clock, and write `clock.json` into their folder
 * saying so and when they started, so that views show seconds since the start rather than
 * since 1970.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type ClockKind = 'virtual' | 'wall';

export interface RunClock {
  kind: ClockKind;
  /** The time the run's times count from: 0 on the virtual clock, the start's epoch ms on the wall clock. */
  origin: number;
}

const CLOCK_FILE = 'clock.json';
export const VIRTUAL_CLOCK: RunClock = { kind: 'virtual', origin: 0 };

/** Times above this (2001-09-09 in epoch ms) are read as the wall clock in runs recorded before clock.json. */
const EPOCH_SIZED = 1e12;

/** Records that the run in `dir` is on the wall clock, started at `origin`; a resumed run keeps the first start. */
export function noteWallClock(dir: string, origin: number = Date.now()): RunClock {
  const existing = readClockFile(dir);
  if (existing?.kind === 'wall') return existing;
  const clock: RunClock = { kind: 'wall', origin };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, CLOCK_FILE), `${JSON.stringify(clock)}\n`);
  return clock;
}

function readClockFile(dir: string): RunClock | null {
  const file = join(dir, CLOCK_FILE);
  if (!existsSync(file)) return null;
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunClock>;
    if ((value.kind === 'wall' || value.kind === 'virtual') && typeof value.origin === 'number') return { kind: value.kind, origin: value.origin };
  } catch {
    // unreadable: judged from the times instead
  }
  return null;
}

/** The clock of the run in `dir`: its clock.json, else judged from the earliest event time. */
export function readRunClock(dir: string, earliestT: number): RunClock {
  return readClockFile(dir) ?? (earliestT > EPOCH_SIZED ? { kind: 'wall', origin: earliestT } : VIRTUAL_CLOCK);
}

/** `virtual` / `wall-clock`, as a label of times. */
export function clockLabel(kind: ClockKind): string {
  return kind === 'wall' ? 'wall-clock' : 'virtual';
}
