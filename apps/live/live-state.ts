/**
 * The live view's model of a run: folds a stream of RunEvents (from the recorder of an
 * in-process run, or from the monitoring subject of a NATS run) into what the page shows:
 * each actor's current state, the server's collection progress (uploads k of n, quorum,
 * deadline), and a bounded list of recent messages and faults. `push` is O(1) per event;
 * `snapshot()` is O(actors) and is called at most a few times a second.
 */

import { naturalCompare } from '../../core/format.js';
import { isPseudoActor } from '../../core/pseudo-actors.js';
import type { ActorRow, CollectionProgress, LiveEvent, LiveSnapshot, MessageRow, Role, RoundRow } from './snapshot.js';
import { LiveTemplates } from './templates.js';

export interface LiveStateOptions {
  /** The run's name, shown in the page title. */
  title?: string;
  /** Actors known before any event arrives (from the scenario); others are added as they appear. */
  actors?: readonly { id: string; role: Role }[];
  /** Uploads the server needs at its deadline (the scenario's quorum as a count). */
  quorum?: number;
  /** Deadline of a waiting state, per role, per state name (`awaitSLMLogits`, `awaitLLMLogits`, `fedAvg.awaitAdapters`). */
  deadlines?: Partial<Record<Role, Record<string, number>>>;
  /** `virtual`: event times are a virtual clock (local runs); `wall`: a real clock (NATS runs). */
  clock?: 'virtual' | 'wall';
  /** Up to this many actors, every actor is listed; beyond, counts per state plus a sample (default 40). */
  detailLimit?: number;
  /** Clients sampled when aggregated (default 12), besides the server and actors with recent trouble. */
  sampleSize?: number;
  /** Recent message rows kept (default 80) and fault/decision rows kept (default 40). */
  recentMessages?: number;
  recentFaults?: number;
  /** Wall clock in ms (tests). */
  now?: () => number;
}

const MESSAGE_FAULTS = new Set(['drop', 'delay', 'duplicate', 'reorder', 'corrupt', 'reject', 'ignored']);
const ACTOR_FAULTS = new Set(['crash', 'restart', 'dropout', 'rejoin', 'straggler']);
const DECISIONS = new Set(['quorum', 'deadline', 'selection', 'population']);
/** Counted only: no row of their own (the NATS deployment's handshakes repeat every 500 ms). */
const QUIET = new Set(['state', 'accepted', 'selected', 'alignment', 'presence', 'resume-offer', 'resume-cut']);
const MARKS = new Set(['delay', 'duplicate', 'reorder', 'corrupt']);
const UPLOADS = new Set(['slm-logits', 'adapter']);
/** Server states that collect uploads, and what they collect. */
const COLLECTING: Record<string, string> = { awaitSLMLogits: 'slm-logits', 'fedAvg.awaitAdapters': 'adapter' };

/** A ring buffer of the last `size` items. */
class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(item: T): void {
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }
  /** Oldest first. */
  toArray(): T[] {
    return this.items.length < this.size ? [...this.items] : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

/** A Map that forgets its oldest keys beyond `capacity`. */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly capacity: number) {
    super();
  }
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.capacity) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}

const str = (v: unknown): string =>
  v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function decisionNote(event: LiveEvent, kind: string): string {
  switch (kind) {
    case 'quorum':
      return `${str(event.accepted)} of ${str(event.needed)} needed: ${str(event.outcome)}`;
    case 'selection':
      return `${Array.isArray(event.clients) ? event.clients.length : '?'} announced`;
    case 'population':
      return `${str(event.count)} clients, ${str(event.perRound)} uploads per round`;
    default:
      return [str(event.state), str(event.action)].filter(Boolean).join(' → ');
  }
}

export class LiveState {
  private readonly options: LiveStateOptions;
  private readonly actors = new Map<string, ActorRow>();
  private order: string[] = [];
  private orderDirty = false;
  private readonly messages: Ring<MessageRow>;
  private readonly faults: Ring<MessageRow>;
  /** `${messageId}>${receiver}` → faults met on the way. */
  private readonly marks = new BoundedMap<string, string[]>(20_000);
  /** `${messageId}>${receiver}` already delivered once. */
  private readonly delivered = new BoundedMap<string, true>(50_000);
  private readonly byKind: Record<string, number> = {};
  private readonly rounds = new Map<number, RoundRow>();
  private readonly templates = new LiveTemplates();
  private readonly wallStart: number;
  private collection: (CollectionProgress & { senders: Set<string> }) | null = null;
  private serverRound = 0;
  private count = 0;
  private latest = Number.NEGATIVE_INFINITY;
  private ended: LiveSnapshot['ended'] = null;
  private quorumSeen: number | null = null;
  /** Changes since the last snapshot. */
  seq = 0;

  constructor(options: LiveStateOptions = {}) {
    this.options = options;
    this.wallStart = this.wallNow();
    this.messages = new Ring(options.recentMessages ?? 80);
    this.faults = new Ring(options.recentFaults ?? 40);
    for (const a of options.actors ?? []) this.actor(a.id, a.role);
  }

  private wallNow(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Events folded in so far. */
  get eventCount(): number {
    return this.count;
  }

  private actor(id: string, role?: Role): ActorRow {
    let row = this.actors.get(id);
    if (!row) {
      row = {
        id,
        role: role ?? (id === 'server' ? 'server' : 'client'),
        state: 'starting',
        round: 0,
        since: 0,
        deadlineAt: null,
        down: null,
        faults: 0,
        lastFault: null,
        sent: 0,
        received: 0,
        bytesSent: 0,
        bytesReceived: 0,
      };
      this.actors.set(id, row);
      this.order.push(id);
      this.orderDirty = true;
    }
    return row;
  }

  private roundRow(round: number, t: number): RoundRow {
    let row = this.rounds.get(round);
    if (!row) {
      row = { round, startedAt: t, endedAt: null, uploads: 0, announced: null, outcome: null, messages: 0, faults: 0 };
      this.rounds.set(round, row);
    }
    return row;
  }

  private row(event: LiveEvent, kind: string, from: string, to: string, note: string, marks: string[] = []): MessageRow {
    return {
      n: this.count,
      t: event.t,
      w: this.wallNow() - this.wallStart,
      kind,
      type: str(event.type ?? event.message),
      from,
      to,
      id: str(event.id ?? event.messageId),
      bytes: num(event.bytes),
      note,
      marks,
    };
  }

  push(event: LiveEvent): void {
    this.count++;
    this.seq++;
    if (typeof event.t === 'number' && event.t > this.latest) this.latest = event.t;
    const kind = String(event.kind);
    this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
    // A pseudo-actor (`network`: partitions) is not a party of the federation.
    const isParty = !isPseudoActor(event.actor) && kind !== 'partition';
    const actor = isParty ? this.actor(event.actor) : null;
    this.follow(event, kind, actor);
    this.templates.push(event, kind);
    if (QUIET.has(kind) || kind === 'send' || kind === 'deliver') return;
    this.faultRow(event, kind, actor);
  }

  /** What an event changes: its actor's state and counts, the round, the collection. */
  private follow(event: LiveEvent, kind: string, actor: ActorRow | null): void {
    const round = typeof event.round === 'number' ? event.round : 0;
    switch (kind) {
      case 'state': {
        if (!actor) break;
        const state = str(event.state);
        actor.state = state;
        actor.round = round;
        actor.since = event.t;
        const ms = this.options.deadlines?.[actor.role]?.[state];
        actor.deadlineAt = ms === undefined ? null : event.t + ms;
        if (actor.role === 'server') this.serverState(state, round, event.t);
        break;
      }
      case 'send': {
        if (!actor) break;
        actor.sent++;
        actor.bytesSent += num(event.bytes) ?? 0;
        const type = str(event.type);
        this.messages.push(this.row(event, 'send', actor.id, UPLOADS.has(type) ? 'server' : '*', ''));
        this.roundRow(this.serverRound, event.t).messages++;
        break;
      }
      case 'deliver': {
        if (!actor) break;
        actor.received++;
        actor.bytesReceived += num(event.bytes) ?? 0;
        const key = `${str(event.id)}>${actor.id}`;
        const marks = [...(this.marks.get(key) ?? [])];
        if (this.delivered.has(key)) marks.push('again');
        else this.delivered.set(key, true);
        this.messages.push(this.row(event, 'deliver', str(event.from), actor.id, '', marks));
        break;
      }
      case 'accepted': {
        const c = this.collection;
        if (actor?.role === 'server' && c && c.open && str(event.message) === c.message && round === c.round) {
          const sender = str(event.sender);
          if (!c.senders.has(sender)) {
            c.senders.add(sender);
            c.received = c.senders.size;
            if (c.message === 'slm-logits') this.roundRow(c.round, event.t).uploads = c.received;
          }
        }
        break;
      }
      case 'selection':
        if (actor?.role === 'server' && Array.isArray(event.clients)) this.roundRow(round, event.t).announced = event.clients.length;
        break;
      case 'quorum': {
        const needed = num(event.needed);
        if (needed !== null) this.quorumSeen = needed;
        const outcome = str(event.outcome);
        const c = this.collection;
        if (c && c.round === round) {
          c.outcome = outcome;
          if (needed !== null) c.needed = needed;
        }
        this.roundRow(round, event.t).outcome = outcome;
        break;
      }
      case 'deadline': {
        const c = this.collection;
        if (actor?.role === 'server' && c && c.open) c.deadlineFired = true;
        break;
      }
      case 'ignored': {
        const c = this.collection;
        if (actor?.role === 'server' && c && c.open && str(event.message) === c.message) c.ignored++;
        break;
      }
      case 'crash':
      case 'dropout':
        if (actor) actor.down = kind;
        break;
      case 'restart':
      case 'rejoin':
        if (actor) actor.down = null;
        break;
    }
  }

  /** Everything but the normal course is a fault or a decision: a row of its own, and marks for the message it names. */
  private faultRow(event: LiveEvent, kind: string, actor: ActorRow | null): void {
    const to = actor?.id ?? str(event.actor);
    let row: MessageRow;
    if (MESSAGE_FAULTS.has(kind)) {
      const from = str(event.from ?? event.sender);
      const note =
        kind === 'delay'
          ? `+${Math.round(num(event.ms) ?? 0)} ms`
          : kind === 'duplicate'
            ? `${str(event.copies) || 1} cop${event.copies === 1 || event.copies === undefined ? 'y' : 'ies'}`
            : str(event.reason ?? event.cause ?? event.error);
      row = this.row(event, kind, from, to, note);
      if (MARKS.has(kind)) {
        const key = `${row.id}>${to}`;
        const list = this.marks.get(key) ?? [];
        if (!list.includes(kind)) this.marks.set(key, [...list, kind]);
      }
      this.messages.push(row);
    } else if (ACTOR_FAULTS.has(kind)) {
      row = this.row(event, kind, to, to, [str(event.state) && `at ${str(event.state)}`, str(event.cause ?? event.reason)].filter(Boolean).join(', '));
    } else if (DECISIONS.has(kind)) {
      row = this.row(event, kind, to, to, decisionNote(event, kind));
    } else if (kind === 'partition') {
      row = this.row(event, kind, 'network', 'network', `${str(event.phase)} ${str(event.actors)}`);
    } else {
      // A kind this view does not know yet: shown as is.
      row = this.row(event, kind, to, to, str(event.cause ?? event.reason ?? ''));
    }
    row.type ||= '';
    this.faults.push(row);
    if (actor && !DECISIONS.has(kind)) {
      actor.faults++;
      actor.lastFault = kind;
    }
    if (!DECISIONS.has(kind)) this.roundRow(this.serverRound, event.t).faults++;
  }

  private serverState(state: string, round: number, t: number): void {
    if (round !== this.serverRound || !this.rounds.has(round)) {
      const prev = this.rounds.get(this.serverRound);
      if (prev && prev.endedAt === null && round !== this.serverRound) prev.endedAt = t;
      this.serverRound = round;
      this.roundRow(round, t);
    }
    if (state === 'roundEnd' || state === 'done' || state === 'failed') {
      const row = this.rounds.get(round);
      if (row && row.endedAt === null) row.endedAt = t;
    }
    const message = COLLECTING[state];
    const c = this.collection;
    if (message) {
      const deadlineMs = this.options.deadlines?.server?.[state] ?? null;
      this.collection = {
        round,
        message,
        state,
        openedAt: t,
        deadlineMs,
        deadlineAt: deadlineMs === null ? null : t + deadlineMs,
        received: 0,
        expected: 0,
        needed: message === 'slm-logits' ? (this.options.quorum ?? this.quorumSeen) : null,
        ignored: 0,
        open: true,
        closedAt: null,
        deadlineFired: false,
        outcome: null,
        senders: new Set(),
      };
    } else if (c?.open) {
      c.open = false;
      c.closedAt = t;
    }
  }

  /** The run is over: shown on the page; `finalStates` from RunResult when there is one. */
  end(info: { finalStates?: Record<string, string>; text?: string } = {}): void {
    this.ended = { at: this.wallNow() - this.wallStart, finalStates: info.finalStates ?? null, text: info.text ?? null };
    this.seq++;
  }

  get isEnded(): boolean {
    return this.ended !== null;
  }

  /** One actor's row, for the page's focus on an actor outside the sample. */
  actorRow(id: string): ActorRow | null {
    return this.actors.get(id) ?? null;
  }

  private sortedIds(): string[] {
    if (this.orderDirty) {
      this.order.sort((a, b) => {
        const ra = this.actors.get(a)!.role === 'server' ? 0 : 1;
        const rb = this.actors.get(b)!.role === 'server' ? 0 : 1;
        return ra - rb || naturalCompare(a, b);
      });
      this.orderDirty = false;
    }
    return this.order;
  }

  snapshot(): LiveSnapshot {
    const ids = this.sortedIds();
    const counts: Record<Role, Record<string, number>> = { server: {}, client: {} };
    let clients = 0;
    for (const id of ids) {
      const a = this.actors.get(id)!;
      if (a.role === 'client') clients++;
      const key = a.down ? 'offline' : a.state;
      counts[a.role][key] = (counts[a.role][key] ?? 0) + 1;
    }
    const limit = this.options.detailLimit ?? 40;
    const detailed = ids.length <= limit;
    let rows: ActorRow[];
    if (detailed) rows = ids.map((id) => ({ ...this.actors.get(id)! }));
    else {
      const sample = this.options.sampleSize ?? 12;
      const picked = new Set<string>();
      for (const id of ids) if (this.actors.get(id)!.role === 'server') picked.add(id);
      let n = 0;
      for (const id of ids) {
        if (n >= sample) break;
        if (this.actors.get(id)!.role === 'client') {
          picked.add(id);
          n++;
        }
      }
      // Actors in trouble: down, failed, or the receivers of the latest faults.
      let extra = 0;
      for (const id of ids) {
        if (extra >= 8) break;
        const a = this.actors.get(id)!;
        if (!picked.has(id) && (a.down || a.state === 'failed')) {
          picked.add(id);
          extra++;
        }
      }
      for (const f of this.faults.toArray().reverse()) {
        if (extra >= 12) break;
        if (this.actors.has(f.to) && !picked.has(f.to)) {
          picked.add(f.to);
          extra++;
        }
      }
      rows = ids.filter((id) => picked.has(id)).map((id) => ({ ...this.actors.get(id)! }));
    }
    let collection: CollectionProgress | null = null;
    if (this.collection) {
      const { senders: _senders, ...rest } = this.collection;
      // A population's round expects the clients announced to, not every client seen.
      const expected = this.rounds.get(rest.round)?.announced ?? clients;
      collection = { ...rest, expected, needed: rest.needed ?? (rest.message === 'slm-logits' ? this.quorumSeen : null) };
    }
    const rounds = [...this.rounds.values()]
      .sort((a, b) => a.round - b.round)
      .slice(-12)
      .map((r) => ({ ...r }));
    return {
      format: 'fedmkt-live/1',
      seq: this.seq,
      title: this.options.title ?? 'run',
      clock: this.options.clock ?? 'virtual',
      now: Number.isFinite(this.latest) ? this.latest : 0,
      wall: this.wallNow() - this.wallStart,
      events: this.count,
      byKind: { ...this.byKind },
      ended: this.ended,
      actors: { total: ids.length, clients, detailed, rows },
      counts,
      templates: this.templates.breakdown((id) => {
        const a = this.actors.get(id);
        return a ? (a.down ? 'offline' : a.state) : null;
      }),
      round: this.serverRound,
      collection,
      rounds,
      messages: this.messages.toArray(),
      faults: this.faults.toArray(),
    };
  }
}
