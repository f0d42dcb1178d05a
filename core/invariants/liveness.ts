/**
 * The liveness property, read off a finished run's trace:
 *
 *   Every client that is up when the server ends ends itself, `done` or `failed` with a stated
 *   reason, within `endWithinMs` of the server's end; and a healthy client never ends `failed`:
 *   when the server completed the run, a client that stayed up and reachable from the moment the
 *   server began announcing the finish ends `done`.
 *
 * "Reachable" means no recorded crash, dropout or partition between it and the server in that
 * window; a client that was down or cut off then need only end (or stay down), for a reason.
 */
import type { TraceEvent } from '../records.js';

export interface LivenessOptions {
  clients: readonly string[];
  /** Per client: how long after the server's end it may take to end (its longest round of work). */
  endWithinMs?: Readonly<Record<string, number>>;
}

export interface LivenessFinding {
  message: string;
  lines: number[];
}

interface ClientEnd {
  state: string;
  line: number;
  t: number;
  reason: string | null;
}

export function checkLiveness(events: readonly TraceEvent[], options: LivenessOptions): LivenessFinding[] {
  const findings: LivenessFinding[] = [];
  const clients = new Set(options.clients);
  const last = new Map<string, ClientEnd>();
  const downSince = new Map<string, number>();
  const troubled = new Map<string, number>();
  let finishStart: number | null = null;
  let serverEnd: { state: string; t: number; line: number } | null = null;
  // Partitions in force: index -> actors cut off together.
  const cut = new Map<number, readonly string[]>();
  const noteTrouble = (client: string, line: number) => {
    if (finishStart !== null && !troubled.has(client)) troubled.set(client, line);
  };

  events.forEach((e, i) => {
    const line = i + 1;
    if (e.kind === 'state' && e.actor === 'server') {
      const state = String(e.state);
      if ((state === 'finishing' || state === 'aborting') && finishStart === null) {
        finishStart = e.t;
        // Whoever is down or cut off from the server as the finish begins is not healthy.
        for (const c of downSince.keys()) noteTrouble(c, line);
        for (const actors of cut.values()) for (const c of separatedFromServer(actors, clients)) noteTrouble(c, line);
      }
      if (state === 'done' || state === 'failed') serverEnd = { state, t: e.t, line };
      return;
    }
    if (e.kind === 'partition') {
      const actors = (e.actors as string[] | undefined) ?? [];
      if (e.phase === 'start') {
        cut.set(Number(e.partition), actors);
        for (const c of separatedFromServer(actors, clients)) noteTrouble(c, line);
      } else cut.delete(Number(e.partition));
      return;
    }
    if (!clients.has(e.actor)) return;
    if (e.kind === 'state') last.set(e.actor, { state: String(e.state), line, t: e.t, reason: typeof e.reason === 'string' ? e.reason : null });
    else if (e.kind === 'crash' || e.kind === 'dropout') {
      downSince.set(e.actor, line);
      noteTrouble(e.actor, line);
    } else if (e.kind === 'restart' || e.kind === 'rejoin') downSince.delete(e.actor);
  });

  const end = serverEnd as { state: string; t: number; line: number } | null;
  for (const client of options.clients) {
    const final = last.get(client);
    if (!final || downSince.has(client)) continue; // never started, or down at the end after a recorded fault
    if (final.state === 'failed' && !final.reason) findings.push({ message: `${client} ended failed without a stated reason`, lines: [final.line] });
    if (!end) continue;
    if (final.state !== 'done' && final.state !== 'failed') continue; // a stall: known-state reports it
    const bound = options.endWithinMs?.[client];
    if (bound !== undefined && final.t > end.t + bound && !troubled.has(client)) {
      findings.push({
        message: `${client} ended ${final.state} ${((final.t - end.t) / 1000).toFixed(1)} s after the server's end, over its bound of ${(bound / 1000).toFixed(1)} s`,
        lines: [end.line, final.line],
      });
    }
    if (end.state === 'done' && final.state === 'failed' && !troubled.has(client)) {
      findings.push({
        message: `${client} was up and reachable while the server completed the run, yet ended failed: ${final.reason ?? 'no reason'}`,
        lines: [end.line, final.line],
      });
    }
  }
  return findings;
}

/** The clients a partition separates from the server. */
function separatedFromServer(actors: readonly string[], clients: ReadonlySet<string>): string[] {
  const serverInside = actors.includes('server');
  return [...clients].filter((c) => actors.includes(c) !== serverInside);
}
