/**
 * The one place message faults happen: a {@link Transport} wrapper between the actors and the
 * real transport (in-memory or NATS), so the same rules apply to both. Each actor gets a
 * {@link FaultInterceptor.view} of it that knows who is sending and who is receiving.
 *
 * For every message and every receiver, in this order:
 *   1. the receiver is offline (crashed, dropped out)          -> drop, cause `offline`
 *   2. the sender went offline after sending (link cut)          -> drop, cause `sender-offline`
 *   3. a partition separates sender and receiver now             -> drop, cause `partition[i]`
 *   4. each matching message rule, in file order, with its own draw against `p`, then the fault
 *      an explorer adds (message-rules.ts): drop (stops here), delay (adds up), duplicate,
 *      corrupt (flips bytes), reorder.
 * Every decision is recorded (kinds drop / delay / duplicate / reorder / corrupt / partition).
 * Partitions are the scenario's, plus those an explorer adds while the run goes on.
 */
import type { Clock } from '../clock/clock.js';
import type { Scheduler } from '../schedule/choices.js';
import type { FaultSpace } from '../schedule/fault-space.js';
import type { MessageHandler, PublishOptions, Subscription, Transport, TransportMessage } from '../transport/transport.js';
import { MessageRules, type MessageMeta } from './message-rules.js';
import type { MessageRule, Partition } from './schema.js';

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
interface ActorStatus {
  /** Current state and round of an actor, if it has been seen. */
  stateOf(actor: string): { state: string; round: number } | undefined;
  online(actor: string): boolean;
  /** Times the actor has gone offline so far. */
  epoch(actor: string): number;
  /** Down for good (a population's client that dropped out: a later selection is a new life). Absent: never. */
  gone?(actor: string): boolean;
}

export interface InterceptorOptions {
  clock: Clock;
  seed: number;
  recorder: FaultEventSink;
  status: ActorStatus;
  rules: readonly MessageRule[];
  partitions: readonly Partition[];
  /** Makes the rules' draws and the explorer's choices (default: the scenario's own draws). */
  scheduler?: Scheduler;
  /** Faults an explorer may add at each delivery (none when absent). */
  space?: FaultSpace | null;
}

interface Subscriber {
  receiver: string;
  handler: MessageHandler;
  active: boolean;
}

interface PatternEntry {
  inner: Subscription;
  /**
   * Receivers in the order they first subscribed (a restarted actor keeps its place: it is down,
   * not gone). One that is up without a subscription (ended, or a population's client released or dropped out)
   * leaves the list: nothing is delivered to it or recorded for it.
   */
  receivers: Map<string, null>;
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
function parseSubject(subject: string): { round: number; type: string; sender: string } | null {
  const parts = subject.split('.');
  if (parts[0] !== 'fedmkt' || parts.length < 4) return null;
  const r = parts[2] ?? '';
  if (!/^r\d+$/.test(r)) return null;
  const type = parts[3] ?? '';
  return { round: Number(r.slice(1)), type, sender: parts[4] ?? BROADCAST_SENDER };
}

export class FaultInterceptor {
  private readonly patterns = new Map<string, PatternEntry>();
  /** Publishes seen here (the in-memory transport delivers the very same bytes). */
  private readonly sent = new WeakMap<Uint8Array, { id: string; sender: string; epoch: number }>();
  private readonly held = new Map<string, Held[]>();
  private readonly subjectCounts = new Map<string, number>();
  private readonly rules: MessageRules;
  private readonly partitions: Partition[] = [];

  constructor(
    private readonly inner: Transport,
    private readonly options: InterceptorOptions,
  ) {
    this.rules = new MessageRules(options.rules, options.seed, options.scheduler, options.space ?? null);
    for (const p of options.partitions) this.addPartition(p, `partitions[${this.partitions.length}]`);
  }

  /** Cut `p.actors` off from everyone else between its two clock times (recorded as it starts and ends). */
  addPartition(p: Partition, cause: string): void {
    const { clock, recorder } = this.options;
    const i = this.partitions.length;
    this.partitions.push(p);
    const at = clock.now();
    const mark = (phase: 'start' | 'end') => () =>
      recorder.event({ t: clock.now(), actor: 'network', round: this.serverRound(), kind: 'partition', partition: i, phase, actors: p.actors, cause });
    // Labelled by who is cut off, not by index: a reproducer lists the same partition at another index.
    // A resumed run's clock starts at its checkpoint: what came before is in the records it keeps.
    if (p.fromMs >= at) clock.setTimeout(mark('start'), p.fromMs - at, `partition:${p.actors.join('+')}:start`);
    if (p.toMs >= at) clock.setTimeout(mark('end'), p.toMs - at, `partition:${p.actors.join('+')}:end`);
  }

  /** Messages held back, partitions and rule counters: the interceptor's part of a run's state. */
  digest(): string {
    const held = [...this.held].map(([r, list]) => `${r}:${list.map((h) => h.meta.id).join('+')}`).sort();
    return `${held.join(',')}|${this.partitions.map((p) => `${p.actors.join('+')}@${p.fromMs}-${p.toMs}`).join(',')}|${this.rules.digest()}`;
  }

  /** The transport as one actor sees it. */
  view(actor: string): Transport {
    return {
      publish: (subject, data, options) => this.publish(subject, data, { ...options, sender: options.sender || actor }),
      subscribe: (pattern, handler) => this.subscribe(actor, pattern, handler),
      close: async () => undefined,
    };
  }

  /**
   * Bytes that reach the inner transport without a publish here (a resumed run replays what the
   * server had sent before its checkpoint) are known by their sender and id, as if sent now.
   */
  adopt(data: Uint8Array, options: PublishOptions): void {
    this.sent.set(data, { id: options.messageId, sender: options.sender, epoch: this.options.status.epoch(options.sender) });
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
      const created: PatternEntry = { inner: { unsubscribe: () => undefined }, receivers: new Map(), live: new Map() };
      created.inner = this.inner.subscribe(pattern, (message) => this.fanOut(created, message));
      this.patterns.set(pattern, created);
      entry = created;
    }
    const sub: Subscriber = { receiver, handler, active: true };
    let list = entry.live.get(receiver);
    if (!list) {
      if (!entry.receivers.has(receiver)) entry.receivers.set(receiver, null);
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
        else {
          owner.live.delete(receiver);
          // Down, it keeps its place for its restart; gone for good, it leaves now, as one that ended does.
          const { status } = this.options;
          if (status.online(receiver) || status.gone?.(receiver)) this.leave(pattern, owner, receiver);
        }
      },
    };
  }

  /** `receiver` is up and no longer listens to `pattern`; a pattern nobody listens to goes. */
  private leave(pattern: string, entry: PatternEntry, receiver: string): void {
    entry.receivers.delete(receiver);
    if (entry.receivers.size > 0 || this.patterns.get(pattern) !== entry) return;
    entry.inner.unsubscribe();
    this.patterns.delete(pattern);
  }

  private fanOut(entry: PatternEntry, message: TransportMessage): void {
    const meta = this.meta(message);
    for (const receiver of [...entry.receivers.keys()]) {
      const subs = entry.live.get(receiver);
      if (subs) for (const sub of subs.slice()) this.route(sub, message, meta);
      // A receiver that is down has no subscription: the message is lost to it.
      else if (!this.options.status.online(receiver)) this.record('drop', receiver, meta, { cause: 'offline' });
      else entry.receivers.delete(receiver);
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
    const { status, clock } = this.options;
    const receiver = sub.receiver;
    const offline = !status.online(receiver)
      ? 'offline'
      : meta.senderEpoch !== null && status.epoch(meta.sender) !== meta.senderEpoch
        ? 'sender-offline'
        : null;
    if (offline) {
      this.record('drop', receiver, meta, { cause: offline });
      return;
    }
    const now = clock.now();
    const cut = this.partitions.findIndex((p) => now >= p.fromMs && now < p.toMs && p.actors.includes(receiver) !== p.actors.includes(meta.sender));
    if (cut >= 0) {
      this.record('drop', receiver, meta, { cause: `partition[${cut}]` });
      return;
    }

    const fate = this.rules.fate(meta, receiver, status.stateOf(receiver), message.data, (kind, detail) => this.record(kind, receiver, meta, detail));
    if (fate.dropped !== null) return;
    const { copies, gapMs, holdMs } = fate;
    const out: TransportMessage = fate.data === message.data ? message : { subject: message.subject, data: fate.data };
    const label = `fault:${meta.id}>${receiver}`;
    const deliverAll = () => {
      if (holdMs !== null) this.hold(sub, out, meta, holdMs);
      else this.deliver(sub, out, meta);
      for (let k = 1; k <= copies; k++) {
        if (gapMs === 0) this.deliver(sub, out, meta);
        else clock.setTimeout(() => this.deliver(sub, out, meta), gapMs * k, label);
      }
    };
    if (fate.delayMs > 0) clock.setTimeout(deliverAll, fate.delayMs, label);
    else deliverAll();
  }

  /** Hand a message to its receiver, then release whatever was held back for it. */
  private deliver(sub: Subscriber, message: TransportMessage, meta: MessageMeta): void {
    if (!sub.active) return;
    if (!this.options.status.online(sub.receiver)) {
      this.record('drop', sub.receiver, meta, { cause: 'offline' });
      return;
    }
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
      timer: this.options.clock.setTimeout(
        () => {
          const current = this.held.get(sub.receiver);
          const at = current?.indexOf(entry) ?? -1;
          if (!current || at < 0) return;
          current.splice(at, 1);
          if (current.length === 0) this.held.delete(sub.receiver);
          this.deliver(sub, message, meta);
        },
        maxHoldMs,
        `fault:${meta.id}>${sub.receiver}`,
      ),
    };
    list.push(entry);
    this.held.set(sub.receiver, list);
  }
}
