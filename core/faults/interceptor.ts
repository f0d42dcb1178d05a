/**
 * The one place message faults happen: a {@link Transport} wrapper between the actors and the
 * real transport (in-memory or NATS), so the same rules apply to both. Each actor gets a
 * {@link FaultInterceptor.view} of it that knows who is sending and who is receiving.
 *
 * For every message and every receiver, in this order:
 *   1. the receiver is offline (crashed, dropped out)          -> drop, cause `offline`
 *   2. the sender went offline after sending (link cut)          -> drop, cause `sender-offline`
 *   3. a partition separates sender and receiver now             -> drop, cause `partition[i]`
 *   4. each matching message rule, in file order, with its own draw against `p`:
 *      drop (stops here), delay (adds up), duplicate, corrupt (flips bytes), reorder.
 * Every decision is recorded (kinds drop / delay / duplicate / reorder / corrupt / partition);
 * draws come from `Random.stream(seed, 'faults/messages/<rule>/<message id>/<receiver>')`, so
 * they do not depend on the order in which decisions are taken.
 */
import type { Clock } from '../clock/clock.js';
import type { MessageType } from '../protocol/messages.js';
import { Random } from '../random.js';
import type { MessageHandler, PublishOptions, Subscription, Transport, TransportMessage } from '../transport/transport.js';
import { roundMatches, type MessageRule, type Partition } from './schema.js';

export interface FaultEvent {
  t: number;
  actor: string;
  round: number;
  kind: string;
  [detail: string]: unknown;
}

export interface FaultEventSink {
  event(event: FaultEvent): void;
}

/** What the interceptor needs to know about actors: the fault controller answers. */
export interface ActorStatus {
  /** Current state and round of an actor, if it has been seen. */
  stateOf(actor: string): { state: string; round: number } | undefined;
  online(actor: string): boolean;
  /** Times the actor has gone offline so far. */
  epoch(actor: string): number;
}

export interface InterceptorOptions {
  clock: Clock;
  seed: number;
  recorder: FaultEventSink;
  status: ActorStatus;
  rules: readonly MessageRule[];
  partitions: readonly Partition[];
}

interface MessageMeta {
  subject: string;
  type: MessageType | string;
  round: number;
  sender: string;
  /** Envelope id when the publish was seen here, else a subject-based key. */
  id: string;
  senderEpoch: number | null;
}

interface Subscriber {
  receiver: string;
  handler: MessageHandler;
  active: boolean;
}

interface PatternEntry {
  inner: Subscription;
  /** Receivers in the order they first subscribed (a restarted actor keeps its place). */
  receivers: string[];
  /** Each receiver's live subscriptions to this pattern. */
  live: Map<string, Subscriber[]>;
}

interface Held {
  sub: Subscriber;
  message: TransportMessage;
  meta: MessageMeta;
  timer: number;
}

const BROADCAST_SENDER = 'server';

/** `fedmkt.<run>.r<round>.<type>[.<client>]` */
export function parseSubject(subject: string): { round: number; type: string; sender: string } | null {
  const parts = subject.split('.');
  if (parts[0] !== 'fedmkt' || parts.length < 4) return null;
  const r = parts[2] ?? '';
  if (!/^r\d+$/.test(r)) return null;
  const type = parts[3] ?? '';
  return { round: Number(r.slice(1)), type, sender: parts[4] ?? BROADCAST_SENDER };
}

const asList = <T>(v: T | T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

export class FaultInterceptor {
  private readonly patterns = new Map<string, PatternEntry>();
  /** Publishes seen here (the in-memory transport delivers the very same bytes). */
  private readonly sent = new WeakMap<Uint8Array, { id: string; sender: string; epoch: number }>();
  private readonly uses: number[];
  private readonly held = new Map<string, Held[]>();
  private readonly subjectCounts = new Map<string, number>();
  private readonly rules: { rule: MessageRule; types?: string[]; from?: string[]; to?: string[]; states?: string[] }[];

  constructor(
    private readonly inner: Transport,
    private readonly options: InterceptorOptions,
  ) {
    this.rules = options.rules.map((rule) => ({
      rule,
      types: asList(rule.type),
      from: asList(rule.from),
      to: asList(rule.to),
      states: asList(rule.state),
    }));
    this.uses = options.rules.map(() => 0);
    const { clock, recorder } = options;
    options.partitions.forEach((p, i) => {
      const at = clock.now();
      clock.setTimeout(() => recorder.event({ t: clock.now(), actor: 'network', round: this.serverRound(), kind: 'partition', partition: i, phase: 'start', actors: p.actors }), Math.max(0, p.fromMs - at));
      clock.setTimeout(() => recorder.event({ t: clock.now(), actor: 'network', round: this.serverRound(), kind: 'partition', partition: i, phase: 'end', actors: p.actors }), Math.max(0, p.toMs - at));
    });
  }

  /** The transport as one actor sees it. */
  view(actor: string): Transport {
    return {
      publish: (subject, data, options) => this.publish(subject, data, { ...options, sender: options.sender || actor }),
      subscribe: (pattern, handler) => this.subscribe(actor, pattern, handler),
      close: async () => undefined,
    };
  }

  async close(): Promise<void> {
    for (const entry of this.patterns.values()) entry.inner.unsubscribe();
    this.patterns.clear();
    await this.inner.close();
  }

  private publish(subject: string, data: Uint8Array, options: PublishOptions): Promise<void> {
    this.sent.set(data, { id: options.messageId, sender: options.sender, epoch: this.options.status.epoch(options.sender) });
    return this.inner.publish(subject, data, options);
  }

  /** One inner subscription per distinct pattern; receivers fan out from it in subscription order. */
  private subscribe(receiver: string, pattern: string, handler: MessageHandler): Subscription {
    let entry = this.patterns.get(pattern);
    if (!entry) {
      const created: PatternEntry = { inner: { unsubscribe: () => undefined }, receivers: [], live: new Map() };
      created.inner = this.inner.subscribe(pattern, (message) => this.fanOut(created, message));
      this.patterns.set(pattern, created);
      entry = created;
    }
    const sub: Subscriber = { receiver, handler, active: true };
    let list = entry.live.get(receiver);
    if (!list) {
      if (!entry.receivers.includes(receiver)) entry.receivers.push(receiver);
      entry.live.set(receiver, (list = []));
    }
    list.push(sub);
    const owner = entry;
    return {
      unsubscribe: () => {
        if (!sub.active) return;
        sub.active = false;
        const current = owner.live.get(receiver);
        if (!current) return;
        const rest = current.filter((s) => s !== sub);
        if (rest.length > 0) owner.live.set(receiver, rest);
        else owner.live.delete(receiver);
      },
    };
  }

  private fanOut(entry: PatternEntry, message: TransportMessage): void {
    const meta = this.meta(message);
    for (const receiver of entry.receivers.slice()) {
      const subs = entry.live.get(receiver);
      if (subs) for (const sub of subs.slice()) this.route(sub, message, meta);
      // A receiver that is down has no subscription: the message is lost to it.
      else if (!this.options.status.online(receiver)) this.record('drop', receiver, meta, { cause: 'offline' });
    }
  }

  private meta(message: TransportMessage): MessageMeta {
    const parsed = parseSubject(message.subject);
    const known = this.sent.get(message.data);
    let id = known?.id;
    if (id === undefined) {
      const n = (this.subjectCounts.get(message.subject) ?? 0) + 1;
      this.subjectCounts.set(message.subject, n);
      id = `${message.subject}#${n}`;
    }
    return {
      subject: message.subject,
      type: parsed?.type ?? 'unknown',
      round: parsed?.round ?? -1,
      sender: known?.sender ?? parsed?.sender ?? 'unknown',
      id,
      senderEpoch: known ? known.epoch : null,
    };
  }

  private serverRound(): number {
    return this.options.status.stateOf('server')?.round ?? 0;
  }

  private record(kind: string, receiver: string, meta: MessageMeta, detail: Record<string, unknown>): void {
    const { clock, recorder, status } = this.options;
    recorder.event({
      t: clock.now(),
      actor: receiver,
      round: status.stateOf(receiver)?.round ?? 0,
      kind,
      type: meta.type,
      id: meta.id,
      from: meta.sender,
      msgRound: meta.round,
      ...detail,
    });
  }

  private route(sub: Subscriber, message: TransportMessage, meta: MessageMeta): void {
    const { status, clock, seed } = this.options;
    const receiver = sub.receiver;
    if (!status.online(receiver)) return this.record('drop', receiver, meta, { cause: 'offline' });
    if (meta.senderEpoch !== null && status.epoch(meta.sender) !== meta.senderEpoch)
      return this.record('drop', receiver, meta, { cause: 'sender-offline' });
    const now = clock.now();
    const cut = this.options.partitions.findIndex(
      (p) => now >= p.fromMs && now < p.toMs && p.actors.includes(receiver) !== p.actors.includes(meta.sender),
    );
    if (cut >= 0) return this.record('drop', receiver, meta, { cause: `partition[${cut}]` });

    let data = message.data;
    let delayMs = 0;
    let copies = 0;
    let gapMs = 0;
    let hold: number | null = null;
    const state = status.stateOf(receiver)?.state;
    for (const [i, r] of this.rules.entries()) {
      const { rule } = r;
      if (r.types && !r.types.includes(meta.type)) continue;
      if (r.from && !r.from.includes(meta.sender)) continue;
      if (r.to && !r.to.includes(receiver)) continue;
      if (!roundMatches(rule.round, meta.round)) continue;
      if (r.states && (state === undefined || !r.states.includes(state))) continue;
      if (rule.limit !== undefined && (this.uses[i] as number) >= rule.limit) continue;
      const rng = Random.stream(seed, `faults/messages/${i}/${meta.id}/${receiver}`);
      if (rule.p < 1 && rng.next() >= rule.p) continue;
      this.uses[i] = (this.uses[i] as number) + 1;
      const cause = `messages[${i}]`;
      switch (rule.action) {
        case 'drop':
          return this.record('drop', receiver, meta, { cause });
        case 'delay': {
          const ms = (rule.ms ?? 0) + (rule.jitterMs ? rng.next() * rule.jitterMs : 0);
          delayMs += ms;
          this.record('delay', receiver, meta, { cause, ms });
          break;
        }
        case 'duplicate':
          copies += rule.copies ?? 1;
          gapMs = rule.gapMs ?? 0;
          this.record('duplicate', receiver, meta, { cause, copies: rule.copies ?? 1, gapMs });
          break;
        case 'corrupt': {
          const flipped = corrupt(data, rule.bytes ?? 1, rng);
          data = flipped.data;
          this.record('corrupt', receiver, meta, { cause, positions: flipped.positions });
          break;
        }
        case 'reorder':
          hold = rule.maxHoldMs ?? 60_000;
          this.record('reorder', receiver, meta, { cause, maxHoldMs: hold });
          break;
      }
    }
    const out: TransportMessage = data === message.data ? message : { subject: message.subject, data };
    const deliverAll = () => {
      if (hold !== null) this.hold(sub, out, meta, hold);
      else this.deliver(sub, out, meta);
      for (let k = 1; k <= copies; k++) {
        if (gapMs === 0) this.deliver(sub, out, meta);
        else clock.setTimeout(() => this.deliver(sub, out, meta), gapMs * k);
      }
    };
    if (delayMs > 0) clock.setTimeout(deliverAll, delayMs);
    else deliverAll();
  }

  /** Hand a message to its receiver, then release whatever was held back for it. */
  private deliver(sub: Subscriber, message: TransportMessage, meta: MessageMeta): void {
    if (!sub.active) return;
    if (!this.options.status.online(sub.receiver)) return this.record('drop', sub.receiver, meta, { cause: 'offline' });
    sub.handler(message);
    const held = this.held.get(sub.receiver);
    if (held && held.length > 0) {
      this.held.delete(sub.receiver);
      for (const h of held) {
        this.options.clock.clearTimeout(h.timer);
        this.deliver(h.sub, h.message, h.meta);
      }
    }
  }

  /** Reorder: keep the message until the receiver's next one has been delivered (or maxHoldMs passes). */
  private hold(sub: Subscriber, message: TransportMessage, meta: MessageMeta, maxHoldMs: number): void {
    const list = this.held.get(sub.receiver) ?? [];
    const entry: Held = {
      sub,
      message,
      meta,
      timer: this.options.clock.setTimeout(() => {
        const current = this.held.get(sub.receiver);
        const at = current?.indexOf(entry) ?? -1;
        if (!current || at < 0) return;
        current.splice(at, 1);
        if (current.length === 0) this.held.delete(sub.receiver);
        this.deliver(sub, message, meta);
      }, maxHoldMs),
    };
    list.push(entry);
    this.held.set(sub.receiver, list);
  }
}

/** A copy of `data` with `count` bytes XOR-ed with non-zero values at seeded positions. */
export function corrupt(data: Uint8Array, count: number, rng: Random): { data: Uint8Array; positions: number[] } {
  const out = new Uint8Array(data);
  const positions: number[] = [];
  for (let i = 0; i < count && out.length > 0; i++) {
    const at = rng.int(out.length);
    out[at] = (out[at] as number) ^ (1 + rng.int(255));
    positions.push(at);
  }
  return { data: out, positions };
}
