import type { Clock } from '../clock/clock.js';
import { subjectMatches } from '../protocol/subjects.js';
import type { MessageHandler, PublishOptions, Subscription, Transport } from './transport.js';

/** Virtual transfer time of `bytes` sent by `sender` (latency plus size over bandwidth). */
export type LinkDelay = (sender: string, bytes: number) => number;

/**
 * The embedded transport: every publish is delivered to the matching subscriptions after the
 * sender's link delay on the (virtual) clock. Deliveries copy nothing: receivers must treat
 * the bytes as read-only, as they would a NATS message.
 */
export class MemoryTransport implements Transport {
  private readonly subscriptions: { pattern: string; handler: MessageHandler; active: boolean }[] = [];
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly linkDelay: LinkDelay = () => 0,
  ) {}

  async publish(subject: string, data: Uint8Array, options: PublishOptions): Promise<void> {
    if (this.closed) throw new Error(`MemoryTransport: publish on ${subject} after close`);
    const delay = this.linkDelay(options.sender, data.byteLength);
    this.clock.setTimeout(() => this.deliver(subject, data), delay);
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
