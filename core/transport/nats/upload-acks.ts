import { type NatsConnection, type Subscription, createInbox } from '@nats-io/transport-node';
import type { NatsTransportLogger } from './logger.js';

/** What a receiver replies to an upload: `ok` once it reassembled and verified it, else why not. */
export type AckReply = { ok: true } | { ok: false; reason: string };

const NO_RESPONDERS = 503;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeAck(reply: AckReply): Uint8Array {
  return encoder.encode(JSON.stringify(reply));
}

function decodeAck(data: Uint8Array): AckReply | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(data));
    if (typeof value !== 'object' || value === null || !('ok' in value)) return undefined;
    if (value.ok === true) return { ok: true };
    if (value.ok === false && 'reason' in value && typeof value.reason === 'string') return { ok: false, reason: value.reason };
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * `no-responders`: nats-server answered a frame with status 503 because nothing subscribes to
 * the subject (yet: in a cluster, interest crosses the routes a little later).
 */
type AckOutcome = AckReply | 'timeout' | 'no-responders';

export interface PendingAck {
  /** Reply subject to put on every frame of the upload (the same across retries). */
  reply: string;
  /** The first acknowledgement not yet consumed, a no-responders status, or `timeout`. */
  next(timeoutMs: number): Promise<AckOutcome>;
  /** Forget no-responders statuses of earlier attempts. */
  resetNoResponders(): void;
  done(): void;
}

interface Entry {
  queued: AckReply[];
  noResponders: boolean;
  waiter: ((outcome: AckReply | 'no-responders') => void) | undefined;
}

/**
 * One wildcard inbox subscription for the acknowledgements of all uploads of a connection
 * (`<inboxPrefix>.<nuid>.<n>`), so an upload costs no subscription of its own.
 */
export class UploadAcks {
  private readonly prefix: string;
  private readonly subscription: Subscription;
  private readonly entries = new Map<string, Entry>();
  private sequence = 0;

  constructor(nc: NatsConnection, inboxPrefix: string, logger: NatsTransportLogger) {
    this.prefix = createInbox(inboxPrefix);
    this.subscription = nc.subscribe(`${this.prefix}.*`, {
      callback: (error, msg) => {
        if (error) {
          logger.error(`acknowledgement inbox ${this.prefix}.* failed: ${error.message}`);
          return;
        }
        const entry = this.entries.get(msg.subject);
        if (!entry) return; // an ack for an upload that already completed
        if (msg.headers?.code === NO_RESPONDERS) {
          entry.noResponders = true;
          this.wake(entry, 'no-responders');
          return;
        }
        const reply = decodeAck(msg.data);
        if (!reply) {
          logger.warn(`ignored an acknowledgement on ${msg.subject} that is not {"ok":...} JSON`);
          return;
        }
        if (!this.wake(entry, reply)) entry.queued.push(reply);
      },
    });
  }

  private wake(entry: Entry, outcome: AckReply | 'no-responders'): boolean {
    const waiter = entry.waiter;
    if (!waiter) return false;
    entry.waiter = undefined;
    waiter(outcome);
    return true;
  }

  expect(): PendingAck {
    const reply = `${this.prefix}.${++this.sequence}`;
    const entry: Entry = { queued: [], noResponders: false, waiter: undefined };
    this.entries.set(reply, entry);
    return {
      reply,
      next: (timeoutMs) => {
        const queued = entry.queued.shift();
        if (queued) return Promise.resolve(queued);
        if (entry.noResponders) return Promise.resolve('no-responders');
        return new Promise((resolve) => {
          const timer = setTimeout(() => {
            entry.waiter = undefined;
            resolve('timeout');
          }, timeoutMs);
          entry.waiter = (ack) => {
            clearTimeout(timer);
            resolve(ack);
          };
        });
      },
      resetNoResponders: () => {
        entry.noResponders = false;
      },
      done: () => {
        this.entries.delete(reply);
      },
    };
  }

  close(): void {
    this.subscription.unsubscribe();
    this.entries.clear();
  }
}
