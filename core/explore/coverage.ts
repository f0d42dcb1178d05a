/**
 * Coverage of an exploration: for each state an actor can be in and each kind of fault, how
 * often that fault met an actor in that state (a message fault: its receiver; a crash, dropout
 * or partition: the actor it took down or cut off). Read off run traces, so a single run's
 * coverage is as good as a whole exploration's.
 */
import { CLIENT_STATES, SERVER_STATES } from '../faults/states.js';
import { FAULT_KINDS, type FaultKind } from '../schedule/fault-space.js';

export interface Coverage {
  /** `<role>:<state>` -> fault kind -> times. */
  cells: Record<string, Partial<Record<FaultKind, number>>>;
  /** Runs counted in. */
  runs: number;
}

interface TraceEvent {
  actor: string;
  kind: string;
  state?: unknown;
  phase?: unknown;
  actors?: unknown;
  cause?: unknown;
}

const MESSAGE_FAULTS = new Set<string>(['drop', 'delay', 'duplicate', 'reorder', 'corrupt']);
/** Drops that are consequences, not faults: the receiver was down, or cut off by a partition already counted. */
const CONSEQUENCES = /^(offline|sender-offline|partition\[)/;

export function emptyCoverage(): Coverage {
  return { cells: {}, runs: 0 };
}

export function coverageOf(events: readonly TraceEvent[]): Coverage {
  const where = new Map<string, string>();
  const cov = emptyCoverage();
  cov.runs = 1;
  const role = (actor: string) => (actor === 'server' ? 'server' : 'client');
  const count = (actor: string, kind: FaultKind, at?: string) => {
    const state = at ?? where.get(actor);
    if (state === undefined) return;
    const cell = (cov.cells[state] ??= {});
    cell[kind] = (cell[kind] ?? 0) + 1;
  };
  for (const e of events) {
    if (e.kind === 'state') where.set(e.actor, `${role(e.actor)}:${String(e.state)}`);
    else if (MESSAGE_FAULTS.has(e.kind)) {
      if (e.kind === 'drop' && CONSEQUENCES.test(String(e.cause ?? ''))) continue;
      count(e.actor, e.kind as FaultKind);
    } else if (e.kind === 'crash' || e.kind === 'dropout')
      // The state the fault names: an actor taken down as it entered a state may have left it in that instant.
      count(e.actor, e.kind, typeof e.state === 'string' && e.state !== '' ? `${role(e.actor)}:${e.state}` : undefined);
    else if (e.kind === 'partition' && e.phase === 'start' && Array.isArray(e.actors)) for (const a of e.actors as string[]) count(a, 'partition');
  }
  return cov;
}

export function mergeCoverage(into: Coverage, from: Coverage): Coverage {
  into.runs += from.runs;
  for (const [state, kinds] of Object.entries(from.cells)) {
    const cell = (into.cells[state] ??= {});
    for (const [kind, n] of Object.entries(kinds)) cell[kind as FaultKind] = (cell[kind as FaultKind] ?? 0) + (n as number);
  }
  return into;
}

/** What a scenario can reach: FedAvg's states only in the homogeneous setting, `aborting` only under the abort policy. */
export interface CoverageScope {
  fedAvg: boolean;
  abort: boolean;
}

const EVERY_STATE: CoverageScope = { fedAvg: true, abort: true };

/** Every (state, kind) cell the search could reach: any fault at any state an actor rests in (not its final ones). */
export function possibleCells(kinds: Iterable<FaultKind> = FAULT_KINDS, scope: CoverageScope = EVERY_STATE): { state: string; kind: FaultKind }[] {
  const wanted = new Set(kinds);
  const out: { state: string; kind: FaultKind }[] = [];
  const states = [...SERVER_STATES.map((s) => `server:${s}`), ...CLIENT_STATES.map((s) => `client:${s}`)].filter(
    (s) => !/:(done|failed)$/.test(s) && (scope.fedAvg || !s.includes(':fedAvg.')) && (scope.abort || s !== 'server:aborting'),
  );
  for (const state of states)
    for (const kind of FAULT_KINDS) {
      if (!wanted.has(kind) || (kind === 'dropout' && state.startsWith('server:'))) continue;
      out.push({ state, kind });
    }
  return out;
}

/** Cells hit, of those possible. */
export function coverageRatio(cov: Coverage, kinds?: Iterable<FaultKind>, scope?: CoverageScope): { hit: number; possible: number } {
  const cells = possibleCells(kinds, scope);
  return { hit: cells.filter((c) => (cov.cells[c.state]?.[c.kind] ?? 0) > 0).length, possible: cells.length };
}

/** The table: a row per state, a column per fault kind, counts (· where none). */
export function formatCoverage(cov: Coverage, kinds: readonly FaultKind[] = FAULT_KINDS, scope?: CoverageScope): string {
  const states = possibleCells(kinds, scope)
    .map((c) => c.state)
    .filter((s, i, all) => all.indexOf(s) === i);
  const width = Math.max(...states.map((s) => s.length), 5);
  const col = (t: string) => t.padStart(Math.max(9, t.length));
  const head = `${'state'.padEnd(width)}  ${kinds.map(col).join(' ')}`;
  const rows = states.map(
    (s) => `${s.padEnd(width)}  ${kinds.map((k) => col(s.startsWith('server:') && k === 'dropout' ? '-' : String(cov.cells[s]?.[k] ?? '·'))).join(' ')}`,
  );
  const { hit, possible } = coverageRatio(cov, kinds, scope);
  return [
    head,
    '-'.repeat(head.length),
    ...rows,
    '',
    `${hit} of ${possible} (state x fault) cells exercised over ${cov.runs} run${cov.runs === 1 ? '' : 's'}`,
  ].join('\n');
}
