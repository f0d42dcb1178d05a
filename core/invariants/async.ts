/**
 * Invariants of buffered and asynchronous runs (docs/async.md), checked on the event trace in
 * place of the sync round's (core/invariants/check.ts):
 *
 *  once         No message is accepted twice by an actor; an upload teaches one LLM version at
 *               most (`used` once), unless a server crash undid the version it taught.
 *  kept         Every upload used was accepted by the server first.
 *  staleness    An upload used for version V was made against version V - 1 - s, with
 *               0 <= s <= maxStaleness.
 *  versions     LLM versions only increase: the server publishes each above the last (again only
 *               after a crash undid it), and a client takes only versions newer than its own.
 *  validated    Every accepted message was delivered (passed decoding and validation).
 *  known-state  Actors are seen only in their machine's states and end done, failed, or down.
 *  liveness     As in sync runs (core/invariants/liveness.ts).
 */
import { ASYNC_CLIENT_STATES, ASYNC_SERVER_STATES } from '../faults/async-states.js';
import type { TraceEvent } from '../records.js';
import type { Scenario } from '../scenario/schema.js';
import type { InvariantOptions, Violation } from './check.js';
import { checkLiveness } from './liveness.js';

export interface AsyncInvariantOptions {
  clients: readonly string[];
  maxStaleness: number;
  endWithinMs?: Readonly<Record<string, number>>;
  partial?: boolean;
}

/** The checker federation.ts runs for a buffered or async scenario, with the sync checker's signature. */
export function asyncInvariantChecker(scenario: Scenario): (events: readonly TraceEvent[], options: InvariantOptions) => Violation[] {
  return (events, options) =>
    checkAsyncInvariants(events, {
      clients: options.clients,
      maxStaleness: scenario.protocol.staleness.maxStaleness,
      ...(options.endWithinMs ? { endWithinMs: options.endWithinMs } : {}),
      ...(options.partial ? { partial: true } : {}),
    });
}

export function checkAsyncInvariants(events: readonly TraceEvent[], options: AsyncInvariantOptions): Violation[] {
  const violations: Violation[] = [];
  const at = (line: number) => events[line - 1] as TraceEvent;
  const fail = (invariant: Violation['invariant'], message: string, lines: number[]) => violations.push({ invariant, message, lines, events: lines.map(at) });
  const clients = new Set(options.clients);
  const delivered = new Map<string, Set<string>>();
  const serverAccepted = new Set<string>();
  /** Crashes (and dropouts) of each actor so far: what an actor did before one may be done again after it. */
  const crashes = new Map<string, number>();
  const crashesOf = (actor: string) => crashes.get(actor) ?? 0;
  /** Upload id -> the version it taught, the line, and the server's crashes then. */
  const used = new Map<string, { version: number; line: number; crashes: number }>();
  let published: { version: number; line: number; crashes: number } | null = null;
  const acceptedIds = new Map<string, { line: number; crashes: number }>();
  const clientVersion = new Map<string, { version: number; line: number }>();
  const last = new Map<string, { state: string; line: number }>();
  const down = new Map<string, number>();

  events.forEach((e, i) => {
    const line = i + 1;
    switch (e.kind) {
      case 'state': {
        const known: readonly string[] = e.actor === 'server' ? ASYNC_SERVER_STATES : clients.has(e.actor) ? ASYNC_CLIENT_STATES : [];
        if (known.length === 0) return;
        const state = String(e.state);
        if (!known.includes(state)) fail('known-state', `${e.actor} is in "${state}", not a state of its asynchronous machine`, [line]);
        last.set(e.actor, { state, line });
        return;
      }
      case 'crash':
      case 'dropout':
        down.set(e.actor, line);
        crashes.set(e.actor, crashesOf(e.actor) + 1);
        clientVersion.delete(e.actor);
        return;
      case 'restart':
      case 'rejoin':
        down.delete(e.actor);
        return;
      case 'deliver': {
        let mine = delivered.get(e.actor);
        if (!mine) delivered.set(e.actor, (mine = new Set()));
        mine.add(String(e.id));
        return;
      }
      case 'send':
        if (e.actor === 'server' && e.type === 'llm-logits') publish(e, line);
        return;
      case 'accepted':
        return accepted(e, line);
      case 'used':
        if (e.actor === 'server') use(e, line);
        return;
    }
  });

  function publish(e: TraceEvent, line: number): void {
    const again = published !== null && e.round === published.version && crashesOf('server') > published.crashes;
    if (published !== null && e.round <= published.version && !again)
      fail('versions', `server published LLM version ${e.round} after version ${published.version}`, [published.line, line]);
    published = { version: e.round, line, crashes: crashesOf('server') };
  }

  function accepted(e: TraceEvent, line: number): void {
    const id = String(e.messageId);
    const key = `${e.actor}\u0000${id}`;
    const earlier = acceptedIds.get(key);
    if (earlier !== undefined && crashesOf(e.actor) === earlier.crashes)
      fail('once', `${e.actor} accepted ${String(e.message)} ${id} twice`, [earlier.line, line]);
    acceptedIds.set(key, { line, crashes: crashesOf(e.actor) });
    if (!delivered.get(e.actor)?.has(id)) fail('validated', `${e.actor} accepted ${String(e.message)} ${id}, which was never delivered to it`, [line]);
    if (e.actor === 'server' && e.message === 'slm-logits') serverAccepted.add(id);
    if (clients.has(e.actor) && e.message === 'llm-logits') {
      const mine = clientVersion.get(e.actor);
      if (mine && e.round <= mine.version) fail('versions', `${e.actor} took LLM version ${e.round} after version ${mine.version}`, [mine.line, line]);
      clientVersion.set(e.actor, { version: e.round, line });
    }
  }

  function use(e: TraceEvent, line: number): void {
    const id = String(e.messageId);
    const staleness = Number(e.staleness);
    const before = used.get(id);
    if (before && !(before.version === e.round && crashesOf('server') > before.crashes))
      fail('once', `server used upload ${id} from ${String(e.sender)} for version ${e.round}, already used for version ${before.version}`, [before.line, line]);
    used.set(id, { version: e.round, line, crashes: crashesOf('server') });
    if (!serverAccepted.has(id)) fail('kept', `server used upload ${id} from ${String(e.sender)}, which it never accepted`, [line]);
    if (!(staleness >= 0 && staleness <= options.maxStaleness))
      fail('staleness', `server used upload ${id} from ${String(e.sender)} ${staleness} versions stale, beyond the bound of ${options.maxStaleness}`, [line]);
    if (Number(e.msgRound) !== e.round - 1 - staleness)
      fail('staleness', `server recorded staleness ${staleness} for an upload of version ${String(e.msgRound)} used for version ${e.round}`, [line]);
  }

  if (options.partial) return violations;
  for (const [actor, end] of last) {
    const downAt = down.get(actor);
    if (downAt !== undefined && downAt >= end.line) continue;
    if (end.state !== 'done' && end.state !== 'failed')
      fail('known-state', `${actor} ended the run in "${end.state}", neither done nor failed nor down after a recorded fault`, [end.line]);
  }
  for (const finding of checkLiveness(events, options)) fail('liveness', finding.message, finding.lines);
  return violations;
}
