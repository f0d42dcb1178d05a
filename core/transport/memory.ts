import type { Clock } from '../clock/clock.js';
import { subjectMatches } from '../protocol/subjects.js';
import type { MessageHandler, PublishOptions, Subscription, Transport } from './transport.js';

/** A sender's uplink: time to put `bytes` on the wire, and the latency after that. */
export interface Link {
  transmitMs(bytes: number): number;
  latencyMs: number;
}

export type LinkOf = (sender: string) => Link;

/**
 * The embedded transport: every publish is delivered to the matching subscriptions after the
 * sender's link delay on the (virtual) clock. A sender's uplink is a serial pipe, as a TCP
 * connection to a NATS server is: a message starts transmitting when the previous one has
 * left, so one sender's messages arrive in the order sent and large ones delay what follows.
 * Deliveries copy nothing: receivers must treat the bytes as read-only, as with NATS.
 */
export class MemoryTransport implements Transport {
  private readonly subscriptions: { pattern: string; handler: MessageHandler; active: boolean }[] = [];
  private closed = false;
  /** Per sender, when its uplink is free again. */
  private readonly linkFreeAt = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly linkOf: LinkOf = () => ({ transmitMs: () => 0, latencyMs: 0 }),
  ) {}

  async publish(subject: string, data: Uint8Array, options: PublishOptions): Promise<void> {
    if (this.closed) throw new Error(`MemoryTransport: publish on ${subject} after close`);
    const link = this.linkOf(options.sender);
    const now = this.clock.now();
    const sent = Math.max(now, this.linkFreeAt.get(options.sender) ?? now) + link.transmitMs(data.byteLength);
    this.linkFreeAt.set(options.sender, sent);
    this.clock.setTimeout(() => this.deliver(subject, data), sent + link.latencyMs - now, `net:${subject}`);
  }

  subscribe(pattern: string, handler: MessageHandler): Subscription {
    const entry = { pattern, handler, active: true };
    this.subscriptions.push(entry);
    return {
      unsubscribe: () => {
        entry.active = false;
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.subscriptions) s.active = false;
  }

  private deliver(subject: string, data: Uint8Array): void {
    for (const s of this.subscriptions.slice()) {
      if (s.active && subjectMatches(s.pattern, subject)) s.handler({ subject, data });
    }
  }
}
