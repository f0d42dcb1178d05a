/** Durations, sizes and colours as the live page shows them. */
import type { LiveSnapshot } from '../snapshot.js';
import { formatBytes } from '../../../core/format.js';
import { messageColour, stateColour } from '../../report/svg.js';

export { messageColour };

/** The report's colours (apps/report/svg.ts), and red for an actor that is down. */
export function colourOfState(state: string): string {
  return state === 'offline' ? '#b71c1c' : stateColour(state);
}

function pad2(n: number): string {
  return (n < 10 ? '0' : '') + n;
}

export function dur(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  const neg = ms < 0;
  const a = Math.abs(ms);
  let out: string;
  if (a < 1000) out = `${Math.round(a)} ms`;
  else if (a < 120000) out = `${Math.round(a / 100) / 10} s`;
  else {
    const s = Math.round(a / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    out = `${h > 0 ? `${h}:${pad2(m)}` : String(m)}:${pad2(s % 60)}`;
  }
  return (neg ? '−' : '') + out;
}

export function bytes(b: number | null | undefined): string {
  return b === null || b === undefined ? '' : formatBytes(b);
}

/** Event time now: the latest event's, moved on by the wall clock for runs on a real clock. */
export function nowT(s: LiveSnapshot, receivedAt: number): number {
  return s.now + (s.clock === 'wall' && !s.ended ? Date.now() - receivedAt : 0);
}
