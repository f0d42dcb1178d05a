/**
 * Protocol invariants, checked on a run's event trace (events.jsonl, in order). Each violation
 * names the invariant, says what went wrong in one sentence, and lists the few events that
 * show it with their line numbers in events.jsonl.
 *
 *  round         An upload the server accepts counts toward the round it is collecting and was
 *                made for that round, unless the staleness policy accepts it late (at most
 *                acceptWithinRounds rounds). A client never accepts an older round's broadcast.
 *  quorum        The server never distils from fewer uploads than its quorum.
 *  once          No message is accepted twice by an actor, and no client's upload is counted
 *                twice toward one round.
 *  kept          The server distils from exactly the uploads it accepted for the round: none
 *                lost (by a crash and restart, say), none it never accepted.
 *  validated     Every accepted message was delivered, i.e. passed decoding and validation
 *                (a rejected message never reaches a machine).
 *  known-state   Actors are only ever seen in states their machine has; every round an actor
 *                entered ends in a round-ending state (`roundEnd`, `waitForRound`, ...), and
 *                the run ends with each actor in `done` or `failed`, or down after a recorded
 *                crash or dropout it never came back from.
 *  selected      In a population run, a client takes part only in rounds it was announced: it
 *                never works on another round, and the server never counts an upload made for a
 *                round the client was not selected for.
 *  liveness      Every client up at the server's end ends, done or failed for a stated reason,
 *                within its bound of the server's end; a healthy client never ends failed
 *                (core/invariants/liveness.ts).
 */
import { roundExitStates, statesOf, type Role } from '../faults/states.js';
import type { TraceEvent } from '../records.js';
import { checkLiveness } from './liveness.js';

// 'staleness' and 'versions': buffered and asynchronous runs (core/invariants/async.ts).
type InvariantName = 'round' | 'quorum' | 'once' | 'kept' | 'validated' | 'known-state' | 'selected' | 'liveness' | 'staleness' | 'versions';

export interface Violation {
  invariant: InvariantName;
  message: string;
  /** 1-based line numbers in events.jsonl of the events that show it. */
  lines: number[];
  events: TraceEvent[];
}

export interface InvariantOptions {
  /** Client ids (the server is `server`). */
  clients: readonly string[];
  /** Uploads the server needs to distil. */
  quorum: number;
  /** Staleness bound of the late-upload policy (0: late uploads are never accepted). */
  acceptWithinRounds: number;
  /** Per client: how long after the server's end it may take to end (liveness); unbounded when absent. */
  endWithinMs?: Readonly<Record<string, number>>;
  /** A population run: every actor but the server is a client (named as it takes part), and `selection` records say who may take part when. */
  population?: boolean;
  /** The trace is a run's beginning only (an explorer stopped it): check what it did, not how it ended. */
  partial?: boolean;
}

const UPLOADS = new Set(['slm-logits', 'adapter']);
/** Where a round ends that its actor dropped out of for good. */
const GONE = '(dropped out)';
const RECORD_FIELDS = new Set(['t', 'actor', 'round', 'kind', 'self']);

export function checkInvariants(events: readonly TraceEvent[], options: InvariantOptions): Violation[] {
  const violations: Violation[] = [];
  const roles = new Map<string, Role>([['server', 'server'], ...options.clients.map((c) => [c, 'client'] as const)]);
  // A population names its clients as they take part: any other actor is one.
  const roleOf = (actor: string): Role | undefined => roles.get(actor) ?? (options.population && actor !== 'server' ? 'client' : undefined);
  /** Each round's announced clients (population runs: `selection` records). */
  const selections = new Map<number, Set<string>>();
  const at = (line: number) => events[line - 1] as TraceEvent;
  const fail = (invariant: InvariantName, message: string, lines: number[]) => violations.push({ invariant, message, lines, events: lines.map(at) });

  const current = new Map<string, { round: number; state: string; line: number }>();
  const lastInRound = new Map<string, Map<number, { state: string; line: number }>>();
  const down = new Map<string, number>();
  const delivered = new Map<string, Map<string, { line: number; msgRound: number }>>();
  const acceptedIds = new Map<string, number>();
  const counted = new Map<string, number>();
  const uploadsOf = new Map<number, Map<string, number>>();
  /** Line of each actor's latest entry into `<round>/<state>`. */
  const entered = new Map<string, number>();

  events.forEach((e, i) => {
    const line = i + 1;
    switch (e.kind) {
      case 'state': {
        const role = roleOf(e.actor);
        if (!role) return;
        const state = String(e.state);
        if (role === 'client' && state === 'trainPrivate') notSelected(e.actor, e.round, `${e.actor} worked on round ${e.round}`, line);
        if (!statesOf(role).includes(state)) fail('known-state', `${e.actor} is in "${state}", not a state of the ${role} machine`, [line]);
        current.set(e.actor, { round: e.round, state, line });
        entered.set(`${e.actor}/${e.round}/${state}`, line);
        let rounds = lastInRound.get(e.actor);
        if (!rounds) lastInRound.set(e.actor, (rounds = new Map()));
        rounds.set(e.round, { state, line });
        return;
      }
      case 'crash':
      case 'dropout': {
        down.set(e.actor, line);
        // The actor goes down as it was on entering the state the fault names: whatever it did
        // since, entering later rounds included, is undone.
        const rounds = lastInRound.get(e.actor);
        if (rounds && typeof e.state === 'string' && e.state !== '') {
          for (const r of [...rounds.keys()]) if (r > e.round) rounds.delete(r);
          // A dropout for good ends its round there (a population's client may take part again later, in a new life).
          rounds.set(e.round, { state: e.kind === 'dropout' && e.rejoinRound === null ? GONE : e.state, line });
        }
        const since = entered.get(`${e.actor}/${e.round}/${String(e.state)}`);
        if (e.asEntered === true && e.actor === 'server' && since !== undefined) {
          for (const [r, byClient] of uploadsOf) for (const [c, at] of byClient) if (r >= e.round && at > since) byClient.delete(c);
        }
        return;
      }
      case 'quorum':
        if (e.actor === 'server') gaveUp(e, line);
        return;
      case 'selection':
        if (e.actor === 'server') selections.set(e.round, new Set(e.clients as string[]));
        return;
      case 'restart':
      case 'rejoin':
        down.delete(e.actor);
        return;
      case 'deliver': {
        let mine = delivered.get(e.actor);
        if (!mine) delivered.set(e.actor, (mine = new Map()));
        mine.set(String(e.id), { line, msgRound: Number(e.msgRound) });
        return;
      }
      case 'accepted':
        return accepted(e, line);
      case 'selected':
        if (e.actor === 'server') distilled(e, line);
        return;
    }
  });

  function accepted(e: TraceEvent, line: number): void {
    const id = String(e.messageId);
    const message = String(e.message);
    const sender = String(e.sender);
    const idKey = `${e.actor}\u0000${id}`;
    const earlier = acceptedIds.get(idKey);
    if (earlier !== undefined) fail('once', `${e.actor} accepted ${message} ${id} twice`, [earlier, line]);
    else acceptedIds.set(idKey, line);
    const delivery = delivered.get(e.actor)?.get(id);
    if (!delivery) {
      fail('validated', `${e.actor} accepted ${message} ${id} from ${sender}, which was never delivered to it (no validated copy arrived)`, [line]);
    }
    const msgRound = delivery?.msgRound ?? (typeof e.msgRound === 'number' ? e.msgRound : e.round);
    const where = current.get(e.actor);
    const lines = (delivery ? [delivery.line] : []).concat(where ? [where.line] : [], [line]).sort((a, b) => a - b);
    if (e.actor === 'server' && message === 'slm-logits') notSelected(sender, msgRound, `server counted ${sender}'s upload ${id} of round ${msgRound}`, line);
    if (e.actor === 'server' && UPLOADS.has(message)) {
      const serverRound = where?.round ?? 0;
      if (e.round !== serverRound) {
        fail('round', `server counted ${message} ${id} from ${sender} toward round ${e.round} while collecting round ${serverRound}`, lines);
      } else if (msgRound !== serverRound) {
        const k = serverRound - msgRound;
        const allowed = message === 'slm-logits' && k > 0 && k <= options.acceptWithinRounds;
        if (!allowed)
          fail(
            'round',
            `server accepted ${message} ${id} of round ${msgRound} from ${sender} in round ${serverRound}` +
              (message === 'slm-logits'
                ? ` (late uploads count within ${options.acceptWithinRounds} round${options.acceptWithinRounds === 1 ? '' : 's'})`
                : ''),
            lines,
          );
      }
      const key = `${e.round}\u0000${message}\u0000${sender}`;
      const first = counted.get(key);
      if (first !== undefined) fail('once', `server counted two ${message} uploads from ${sender} toward round ${e.round}`, [first, line]);
      else counted.set(key, line);
      if (message === 'slm-logits') {
        let byRound = uploadsOf.get(e.round);
        if (!byRound) uploadsOf.set(e.round, (byRound = new Map()));
        if (!byRound.has(sender)) byRound.set(sender, line);
      }
      return;
    }
    if (roleOf(e.actor) === 'client' && (message === 'llm-logits' || message === 'adapter-average')) {
      const clientRound = where?.round ?? 0;
      const stale = message === 'llm-logits' ? msgRound < clientRound : msgRound !== clientRound;
      if (stale) fail('round', `${e.actor} accepted ${message} ${id} of round ${msgRound} in round ${clientRound}`, lines);
    }
  }

  function notSelected(client: string, round: number, what: string, line: number): void {
    const chosen = selections.get(round);
    if (chosen && !chosen.has(client)) fail('selected', `${what}, though it was not selected for that round`, [line]);
  }

  /** Skipping or aborting a round for want of a quorum that was in fact met loses the uploads accepted for it. */
  function gaveUp(e: TraceEvent, line: number): void {
    if (e.outcome === 'proceed') return;
    const uploads = uploadsOf.get(e.round) ?? new Map<string, number>();
    if (uploads.size >= options.quorum)
      fail(
        'kept',
        `server gave up round ${e.round} for want of a quorum (${String(e.accepted)} of ${options.quorum}) after accepting ${uploads.size} uploads for it (${[...uploads.keys()].join(', ')}): it lost them`,
        [...uploads.values(), line],
      );
  }

  function distilled(e: TraceEvent, line: number): void {
    const teachers = Object.keys(e).filter((k) => !RECORD_FIELDS.has(k));
    const uploads = uploadsOf.get(e.round) ?? new Map<string, number>();
    if (teachers.length < options.quorum) {
      fail(
        'quorum',
        `server distilled round ${e.round} from ${teachers.length} upload${teachers.length === 1 ? '' : 's'}, below its quorum of ${options.quorum}`,
        [...[...uploads.values()], line],
      );
    }
    for (const t of teachers) {
      if (!uploads.has(t)) fail('kept', `server distilled round ${e.round} from ${t}'s upload, which it never accepted for that round`, [line]);
    }
    for (const [sender, acceptedAt] of uploads) {
      if (!teachers.includes(sender))
        fail('kept', `server accepted ${sender}'s upload for round ${e.round} but did not distil from it (lost)`, [acceptedAt, line]);
    }
  }

  if (options.partial) return violations;
  for (const [actor, rounds] of lastInRound) {
    const role = roleOf(actor) as Role;
    const exits = [...roundExitStates(role), GONE];
    const ordered = [...rounds.entries()].sort((a, b) => a[1].line - b[1].line);
    const final = ordered[ordered.length - 1];
    for (const [round, last] of ordered.slice(0, -1)) {
      if (!exits.includes(last.state))
        fail('known-state', `${actor} left round ${round} in "${last.state}" (a round ends in ${exits.join(', ')})`, [last.line]);
    }
    if (final) {
      const [round, last] = final;
      const downAt = down.get(actor);
      if (downAt !== undefined && downAt >= last.line) continue;
      if (last.state !== 'done' && last.state !== 'failed' && !(role === 'client' && last.state === 'released'))
        fail('known-state', `${actor} ended the run in round ${round} in "${last.state}", neither done nor failed nor down after a recorded crash`, [
          last.line,
        ]);
    }
  }
  const clients = options.population ? [...lastInRound.keys()].filter((a) => a !== 'server') : options.clients;
  for (const finding of checkLiveness(events, { ...options, clients })) fail('liveness', finding.message, finding.lines);
  return violations;
}

/** One violation as text: the invariant, the sentence, then each event with its line. */
export function formatViolation(v: Violation): string {
  return [`[${v.invariant}] ${v.message}`, ...v.lines.map((line, i) => `    events.jsonl:${line} ${JSON.stringify(v.events[i])}`)].join('\n');
}
