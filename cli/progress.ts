import type { RunEvent } from '../core/records.js';
import { clockLabel, type RunClock } from '../core/run-clock.js';

/** How every command reports what it is doing: `[fedmkt] ...` lines on stderr (stdout keeps the results). */
export function log(line: string): void {
  process.stderr.write(`[fedmkt] ${line}\n`);
}

/** `12.3 s virtual` or `12.3 s wall-clock`: a run's time, counted from its start. */
export function runTime(t: number, clock: RunClock): string {
  return `${((t - clock.origin) / 1000).toFixed(1)} s ${clockLabel(clock.kind)}`;
}

/**
 * Live progress on stderr: on a terminal, one status line per actor redrawn in place; otherwise
 * one line per round the server completes, in the style of {@link log}.
 */
export function progressReporter(actorIds: readonly string[], clock: RunClock, stream: NodeJS.WriteStream = process.stderr): (event: RunEvent) => void {
  const states = new Map<string, string>(actorIds.map((id) => [id, 'starting']));
  const tty = stream.isTTY === true;
  let drawn = false;
  let lastDraw = 0;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    if (drawn) stream.write(`\x1b[${actorIds.length}A`);
    for (const id of actorIds) stream.write(`\x1b[2K  ${id.padEnd(8)} ${states.get(id)}\n`);
    drawn = true;
  };
  return (event) => {
    if (event.kind !== 'state') return;
    const state = String(event.state);
    states.set(event.actor, `round ${event.round}  ${state}  (t=${runTime(event.t, clock)})`);
    if (tty) draw(state === 'done' || state === 'failed');
    else if (event.actor === 'server' && (state === 'roundEnd' || state === 'done' || state === 'failed'))
      stream.write(`[fedmkt] server ${state === 'roundEnd' ? `finished round ${event.round}` : state} at t=${runTime(event.t, clock)}\n`);
  };
}
