import type { Clock } from '../clock/clock.js';
import { subjectMatches } from '../protocol/subjects.js';
import type { MessageHandler, PublishOptions, Subscription, Transport } from './transport.js';

/** A sender's uplink: time to put `bytes` on the wire, and the latency after that. */
export interface Link {
  transmitMs(bytes: number): number;
  latencyMs: number;
}

export type LinkOf = (sender: string) => Link;

/** A publish as the transport scheduled it: who sent what, and when it arrives. */
export interface ScheduledDelivery {
  subject: string;
  data: Uint8Array;
  sender: string;
  messageId: string;
  /** Clock ms at which it is delivered. */
  at: number;
}

/**
 * The embedded transport: every publish is delivered to the matching subscriptions after the
 * sender's link delay on the (virtual) clock. A sender's uplink is a serial pipe, as a TCP
 * connection to a NATS server is: a message starts transmitting when the previous one has
 * left, so one sender's messages arrive in the order sent and large ones delay what follows.
 * Deliveries copy nothing: receivers must treat the bytes as read-only, as with NATS.
 */
interface Entry {
  seq: number;
  pattern: string;
  handler: MessageHandler;
  active: boolean;
}

export class MemoryTransport implements Transport {
  /**
   * Subscriptions by their pattern's last token when it is a name (`...round-start.c7`,
   * `...llm-logits`), else in `wildcards`: a message is matched against the few that can match
   * it, not every subscription of a population's run. Maps keep subscription order.
   */
  private readonly byLastToken = new Map<string, Map<number, Entry>>();
  private readonly wildcards = new Map<number, Entry>();
  private seq = 0;
  private closed = false;
  /** Per sender, when its uplink is free again. */
  private readonly linkFreeAt = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly linkOf: LinkOf = () => ({ transmitMs: () => 0, latencyMs: 0 }),
    /** Told of every publish once its arrival is scheduled (a population's checkpoints keep the server's). */
    private readonly onScheduled?: (delivery: ScheduledDelivery) => void,
  ) {}

  async publish(subject: string, data: Uint8Array, options: PublishOptions): Promise<void> {
    if (this.closed) throw new Error(`MemoryTransport: publish on ${subject} after close`);
    const link = this.linkOf(options.sender);
    const now = this.clock.now();
    const sent = Math.max(now, this.linkFreeAt.get(options.sender) ?? now) + link.transmitMs(data.byteLength);
    this.linkFreeAt.set(options.sender, sent);
    this.clock.setTimeout(() => this.deliver(subject, data), sent + link.latencyMs - now, `net:${subject}`);
    this.onScheduled?.({ subject, data, sender: options.sender, messageId: options.messageId, at: sent + link.latencyMs });
  }

  /** Deliver `data` at clock time `atMs` (not before now) as if it had been published to arrive then: a resumed run's replay. */
  deliverAt(atMs: number, subject: string, data: Uint8Array): void {
    this.clock.setTimeout(() => this.deliver(subject, data), Math.max(0, atMs - this.clock.now()), `net:${subject}`);
  }

  /** When `sender`'s uplink is free again (undefined: it never sent). */
  uplinkFreeAt(sender: string): number | undefined {
    return this.linkFreeAt.get(sender);
  }

  /** A resumed run's uplink: busy until `atMs`, as it was at the checkpoint. */
  setUplinkFreeAt(sender: string, atMs: number): void {
    this.linkFreeAt.set(sender, atMs);
  }

  subscribe(pattern: string, handler: MessageHandler): Subscription {
    const entry: Entry = { seq: this.seq++, pattern, handler, active: !this.closed };
    const last = pattern.slice(pattern.lastIndexOf('.') + 1);
    let bucket = this.wildcards;
    if (last !== '*' && last !== '>') {
      bucket = this.byLastToken.get(last) ?? new Map<number, Entry>();
      this.byLastToken.set(last, bucket);
    }
    bucket.set(entry.seq, entry);
    return {
      unsubscribe: () => {
        entry.active = false;
        bucket.delete(entry.seq);
        if (bucket.size === 0 && bucket !== this.wildcards) this.byLastToken.delete(last);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const bucket of [this.wildcards, ...this.byLastToken.values()]) for (const s of bucket.values()) s.active = false;
  }

  /** To every matching subscription, in the order they subscribed (those made meanwhile wait for the next message). */
  private deliver(subject: string, data: Uint8Array): void {
    const named = this.byLastToken.get(subject.slice(subject.lastIndexOf('.') + 1));
    const a = named ? [...named.values()] : [];
    const b = this.wildcards.size > 0 ? [...this.wildcards.values()] : [];
    for (let i = 0, j = 0; i < a.length || j < b.length; ) {
      const s = j >= b.length || (i < a.length && a[i]!.seq < b[j]!.seq) ? a[i++]! : b[j++]!;
      if (s.active && subjectMatches(s.pattern, subject)) s.handler({ subject, data });
    }
  }
}
