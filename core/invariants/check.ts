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
  const checker = new TraceChecker(events, options);
  events.forEach((e, i) => checker.read(e, i + 1));
  if (!options.partial) checker.end();
  return checker.violations;
}

/** The invariants over one trace, read in order: what each actor is doing, and what the server collected and used. */
class TraceChecker {
  readonly violations: Violation[] = [];
  private readonly roles: Map<string, Role>;
  /** Each round's announced clients (population runs: `selection` records). */
  private readonly selections = new Map<number, Set<string>>();
  private readonly current = new Map<string, { round: number; state: string; line: number }>();
  private readonly lastInRound = new Map<string, Map<number, { state: string; line: number }>>();
  /** Actors down (crashed or dropped out, not back): the line and round they went down in. */
  private readonly down = new Map<string, { line: number; round: number }>();
  private readonly delivered = new Map<string, Map<string, { line: number; msgRound: number }>>();
  private readonly acceptedIds = new Map<string, number>();
  private readonly counted = new Map<string, number>();
  private readonly uploadsOf = new Map<number, Map<string, number>>();
  /** Line of each actor's latest entry into `<round>/<state>`. */
  private readonly entered = new Map<string, number>();

  constructor(
    private readonly events: readonly TraceEvent[],
    private readonly options: InvariantOptions,
  ) {
    this.roles = new Map<string, Role>([['server', 'server'], ...options.clients.map((c) => [c, 'client'] as const)]);
  }

  /** A population names its clients as they take part: any other actor is one. */
  private roleOf(actor: string): Role | undefined {
    return this.roles.get(actor) ?? (this.options.population && actor !== 'server' ? 'client' : undefined);
  }

  private fail(invariant: InvariantName, message: string, lines: number[]): void {
    this.violations.push({ invariant, message, lines, events: lines.map((line) => this.events[line - 1] as TraceEvent) });
  }

  read(e: TraceEvent, line: number): void {
    switch (e.kind) {
      case 'state':
        this.state(e, line);
        return;
      case 'crash':
      case 'dropout':
        this.wentDown(e, line);
        return;
      case 'quorum':
        if (e.actor === 'server') this.gaveUp(e, line);
        return;
      case 'selection':
        if (e.actor === 'server') this.selections.set(e.round, new Set(e.clients as string[]));
        return;
      case 'restart':
      case 'rejoin':
        this.down.delete(e.actor);
        return;
      case 'deliver': {
        let mine = this.delivered.get(e.actor);
        if (!mine) this.delivered.set(e.actor, (mine = new Map()));
        mine.set(String(e.id), { line, msgRound: Number(e.msgRound) });
        return;
      }
      case 'accepted':
        this.accepted(e, line);
        return;
      case 'selected':
        if (e.actor === 'server') this.distilled(e, line);
        return;
    }
  }

  private state(e: TraceEvent, line: number): void {
    const role = this.roleOf(e.actor);
    if (!role) return;
    const state = String(e.state);
    const down = this.down.get(e.actor);
    if (down && this.options.population) this.newLife(e.actor, down.round);
    if (role === 'client' && state === 'trainPrivate') this.notSelected(e.actor, e.round, `${e.actor} worked on round ${e.round}`, line);
    if (!statesOf(role).includes(state)) this.fail('known-state', `${e.actor} is in "${state}", not a state of the ${role} machine`, [line]);
    this.current.set(e.actor, { round: e.round, state, line });
    this.entered.set(`${e.actor}/${e.round}/${state}`, line);
    let rounds = this.lastInRound.get(e.actor);
    if (!rounds) this.lastInRound.set(e.actor, (rounds = new Map()));
    rounds.set(e.round, { state, line });
  }

  /**
   * A population's client down for good (a crash never restarted) that is selected again starts a
   * new life: the round it went down in ended there.
   */
  private newLife(actor: string, downRound: number): void {
    this.down.delete(actor);
    const rounds = this.lastInRound.get(actor);
    const last = rounds?.get(downRound);
    if (rounds && last) rounds.set(downRound, { state: GONE, line: last.line });
  }

  private wentDown(e: TraceEvent, line: number): void {
    this.down.set(e.actor, { line, round: e.round });
    // The actor goes down as it was on entering the state the fault names: whatever it did
    // since, entering later rounds included, is undone.
    const rounds = this.lastInRound.get(e.actor);
    if (rounds && typeof e.state === 'string' && e.state !== '') {
      for (const r of [...rounds.keys()]) if (r > e.round) rounds.delete(r);
      // A dropout for good ends its round there (a population's client may take part again later, in a new life).
      rounds.set(e.round, { state: e.kind === 'dropout' && e.rejoinRound === null ? GONE : e.state, line });
    }
    const since = this.entered.get(`${e.actor}/${e.round}/${String(e.state)}`);
    if (e.asEntered === true && e.actor === 'server' && since !== undefined) {
      for (const [r, byClient] of this.uploadsOf) for (const [c, at] of byClient) if (r >= e.round && at > since) byClient.delete(c);
    }
  }

  private accepted(e: TraceEvent, line: number): void {
    const id = String(e.messageId);
    const message = String(e.message);
    const sender = String(e.sender);
    const idKey = `${e.actor}\u0000${id}`;
    const earlier = this.acceptedIds.get(idKey);
    if (earlier !== undefined) this.fail('once', `${e.actor} accepted ${message} ${id} twice`, [earlier, line]);
    else this.acceptedIds.set(idKey, line);
    const delivery = this.delivered.get(e.actor)?.get(id);
    if (!delivery) {
      this.fail('validated', `${e.actor} accepted ${message} ${id} from ${sender}, which was never delivered to it (no validated copy arrived)`, [line]);
    }
    const msgRound = delivery?.msgRound ?? (typeof e.msgRound === 'number' ? e.msgRound : e.round);
    const where = this.current.get(e.actor);
    const lines = (delivery ? [delivery.line] : []).concat(where ? [where.line] : [], [line]).sort((a, b) => a - b);
    if (e.actor === 'server' && message === 'slm-logits')
      this.notSelected(sender, msgRound, `server counted ${sender}'s upload ${id} of round ${msgRound}`, line);
    if (e.actor === 'server' && UPLOADS.has(message)) {
      this.countedUpload(e, { id, message, sender, msgRound, serverRound: where?.round ?? 0 }, lines, line);
      return;
    }
    if (this.roleOf(e.actor) === 'client' && (message === 'llm-logits' || message === 'adapter-average')) {
      const clientRound = where?.round ?? 0;
      const stale = message === 'llm-logits' ? msgRound < clientRound : msgRound !== clientRound;
      if (stale) this.fail('round', `${e.actor} accepted ${message} ${id} of round ${msgRound} in round ${clientRound}`, lines);
    }
  }

  /** An upload the server counted: toward the round it collects, made for it (or late within the bound), once. */
  private countedUpload(
    e: TraceEvent,
    u: { id: string; message: string; sender: string; msgRound: number; serverRound: number },
    lines: number[],
    line: number,
  ): void {
    const { id, message, sender, msgRound, serverRound } = u;
    const within = this.options.acceptWithinRounds;
    if (e.round !== serverRound) {
      this.fail('round', `server counted ${message} ${id} from ${sender} toward round ${e.round} while collecting round ${serverRound}`, lines);
    } else if (msgRound !== serverRound) {
      const k = serverRound - msgRound;
      const allowed = message === 'slm-logits' && k > 0 && k <= within;
      if (!allowed)
        this.fail(
          'round',
          `server accepted ${message} ${id} of round ${msgRound} from ${sender} in round ${serverRound}` +
            (message === 'slm-logits' ? ` (late uploads count within ${within} round${within === 1 ? '' : 's'})` : ''),
          lines,
        );
    }
    const key = `${e.round}\u0000${message}\u0000${sender}`;
    const first = this.counted.get(key);
    if (first !== undefined) this.fail('once', `server counted two ${message} uploads from ${sender} toward round ${e.round}`, [first, line]);
    else this.counted.set(key, line);
    if (message === 'slm-logits') {
      let byRound = this.uploadsOf.get(e.round);
      if (!byRound) this.uploadsOf.set(e.round, (byRound = new Map()));
      if (!byRound.has(sender)) byRound.set(sender, line);
    }
  }

  private notSelected(client: string, round: number, what: string, line: number): void {
    const chosen = this.selections.get(round);
    if (chosen && !chosen.has(client)) this.fail('selected', `${what}, though it was not selected for that round`, [line]);
  }

  /** Skipping or aborting a round for want of a quorum that was in fact met loses the uploads accepted for it. */
  private gaveUp(e: TraceEvent, line: number): void {
    if (e.outcome === 'proceed') return;
    const uploads = this.uploadsOf.get(e.round) ?? new Map<string, number>();
    const { quorum } = this.options;
    if (uploads.size >= quorum)
      this.fail(
        'kept',
        `server gave up round ${e.round} for want of a quorum (${String(e.accepted)} of ${quorum}) after accepting ${uploads.size} uploads for it (${[...uploads.keys()].join(', ')}): it lost them`,
        [...uploads.values(), line],
      );
  }

  private distilled(e: TraceEvent, line: number): void {
    const teachers = Object.keys(e).filter((k) => !RECORD_FIELDS.has(k));
    const uploads = this.uploadsOf.get(e.round) ?? new Map<string, number>();
    const { quorum } = this.options;
    if (teachers.length < quorum) {
      this.fail(
        'quorum',
        `server distilled round ${e.round} from ${teachers.length} upload${teachers.length === 1 ? '' : 's'}, below its quorum of ${quorum}`,
        [...[...uploads.values()], line],
      );
    }
    for (const t of teachers) {
      if (!uploads.has(t)) this.fail('kept', `server distilled round ${e.round} from ${t}'s upload, which it never accepted for that round`, [line]);
    }
    for (const [sender, acceptedAt] of uploads) {
      if (!teachers.includes(sender))
        this.fail('kept', `server accepted ${sender}'s upload for round ${e.round} but did not distil from it (lost)`, [acceptedAt, line]);
    }
  }

  /** How the run ended: every round left in a round-ending state, every actor done, failed or down; liveness. */
  end(): void {
    for (const [actor, rounds] of this.lastInRound) {
      const role = this.roleOf(actor) as Role;
      const exits = [...roundExitStates(role), GONE];
      const ordered = [...rounds.entries()].sort((a, b) => a[1].line - b[1].line);
      const final = ordered[ordered.length - 1];
      for (const [round, last] of ordered.slice(0, -1)) {
        if (!exits.includes(last.state))
          this.fail('known-state', `${actor} left round ${round} in "${last.state}" (a round ends in ${exits.join(', ')})`, [last.line]);
      }
      if (!final) continue;
      const [round, last] = final;
      const downAt = this.down.get(actor)?.line;
      if (downAt !== undefined && downAt >= last.line) continue;
      if (last.state !== 'done' && last.state !== 'failed' && !(role === 'client' && last.state === 'released'))
        this.fail('known-state', `${actor} ended the run in round ${round} in "${last.state}", neither done nor failed nor down after a recorded crash`, [
          last.line,
        ]);
    }
    const clients = this.options.population ? [...this.lastInRound.keys()].filter((a) => a !== 'server') : this.options.clients;
    for (const finding of checkLiveness(this.events, { ...this.options, clients })) this.fail('liveness', finding.message, finding.lines);
  }
}

/** One violation as text: the invariant, the sentence, then each event with its line. */
export function formatViolation(v: Violation): string {
  return [`[${v.invariant}] ${v.message}`, ...v.lines.map((line, i) => `    events.jsonl:${line} ${JSON.stringify(v.events[i])}`)].join('\n');
}
