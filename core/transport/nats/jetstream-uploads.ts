import { createHash } from 'node:crypto';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JsMsg,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  nanos,
} from 'nats';
import { serverInbox, subjectMatches } from '../../protocol/subjects.js';
import type { NatsTransportLogger } from './logger.js';
import { patternWithin, patternsOverlap } from './subject-rules.js';

export interface JetStreamUploadsOptions {
  run: string;
  storage: 'file' | 'memory';
  /** Prefix of the durable consumer names this connection creates (one per subscription pattern). */
  durablePrefix: string;
  /** Nats-Msg-Id de-duplication window of the stream. */
  duplicateWindowMs: number;
  /** How long a delivered, unacknowledged chunk waits before JetStream redelivers it. */
  ackWaitMs: number;
  /** Chunks published before waiting for their acknowledgements. */
  window: number;
  logger: NatsTransportLogger;
}

export interface UploadConsumer {
  /** Resolves when the durable consumer exists and delivers. */
  ready: Promise<void>;
  stop(): void;
}

const MAX_AGE_MS = 24 * 3600_000;

function nameToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * The JetStream variant of acknowledged uploads: a stream over the run's upload subjects
 * stores every chunk (Nats-Msg-Id `<sender>|<message id>|<chunk>` makes retries idempotent),
 * a publish resolves on the stream's acknowledgements, and the receiver reads the stream
 * through a durable consumer, acknowledging a message's chunks once it is reassembled.
 * The stream is a work queue, so one consumer per subject: the server actor.
 */
export class JetStreamUploads {
  readonly streamName: string;
  readonly subjects: string[];
  private readonly js: JetStreamClient;
  private stream: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: JetStreamUploadsOptions,
  ) {
    this.streamName = `FEDMKT_${nameToken(options.run)}_UPLOADS`;
    this.subjects = serverInbox(options.run);
    this.js = nc.jetstream();
  }

  covers(subject: string): boolean {
    return this.subjects.some((pattern) => subjectMatches(pattern, subject));
  }

  overlaps(pattern: string): boolean {
    return this.subjects.some((s) => patternsOverlap(pattern, s));
  }

  ensureStream(): Promise<void> {
    this.stream ??= this.createStream().catch((error: unknown) => {
      this.stream = undefined;
      throw new Error(`JetStream stream ${this.streamName} over ${this.subjects.join(', ')} could not be created: ${String(error)}`);
    });
    return this.stream;
  }

  private async createStream(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    try {
      await jsm.streams.info(this.streamName);
      return;
    } catch {
      // not there yet
    }
    try {
      await jsm.streams.add({
        name: this.streamName,
        subjects: this.subjects,
        storage: this.options.storage === 'memory' ? StorageType.Memory : StorageType.File,
        // Work queue: a chunk leaves the stream once the server's consumer acknowledged it.
        retention: RetentionPolicy.Workqueue,
        discard: DiscardPolicy.Old,
        max_age: nanos(MAX_AGE_MS),
        duplicate_window: nanos(this.options.duplicateWindowMs),
      });
    } catch (error) {
      // Another actor may have created it in the meantime.
      await jsm.streams.info(this.streamName).catch(() => {
        throw error;
      });
    }
  }

  async publish(subject: string, frames: Uint8Array[], dedupBase: string, timeoutMs: number, maxAttempts: number): Promise<void> {
    await this.ensureStream();
    let next = 0;
    const worker = async () => {
      while (next < frames.length) {
        const index = next++;
        await this.publishChunk(subject, frames[index] as Uint8Array, `${dedupBase}|${index}`, timeoutMs, maxAttempts);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.window, frames.length) }, worker));
  }

  private async publishChunk(subject: string, frame: Uint8Array, msgID: string, timeoutMs: number, maxAttempts: number): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      try {
        const ack = await this.js.publish(subject, frame, { msgID, timeout: timeoutMs });
        if (ack.stream !== this.streamName) {
          throw new Error(`chunk ${msgID} on "${subject}" was stored by stream ${ack.stream}, expected ${this.streamName}`);
        }
        return;
      } catch (error) {
        lastError = error;
        if (this.nc.isClosed()) break;
        this.options.logger.warn(`JetStream publish of chunk ${msgID} to "${subject}" failed (attempt ${attempt} of ${maxAttempts}): ${String(error)}`);
      }
    }
    throw new Error(`JetStream publish of chunk ${msgID} to "${subject}" failed after ${maxAttempts} attempts: ${String(lastError)}`);
  }

  consume(pattern: string, onMessage: (message: JsMsg) => void): UploadConsumer {
    let stopped = false;
    let messages: ConsumerMessages | undefined;
    const ready = (async () => {
      await this.ensureStream();
      const jsm = await this.nc.jetstreamManager();
      const durable = `${nameToken(this.options.durablePrefix)}_${createHash('sha256').update(pattern).digest('hex').slice(0, 12)}`;
      // A filter must lie inside the stream's subjects; a wider pattern reads everything and filters here.
      const filter = this.subjects.some((s) => patternWithin(pattern, s)) ? pattern : undefined;
      await jsm.consumers.add(this.streamName, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(this.options.ackWaitMs),
        ...(filter === undefined ? {} : { filter_subject: filter }),
      });
      const consumer = await this.js.consumers.get(this.streamName, durable);
      if (stopped) return;
      messages = await consumer.consume({
        callback: (message) => {
          if (subjectMatches(pattern, message.subject)) onMessage(message);
          else message.ack();
        },
      });
      if (stopped) messages.stop();
    })();
    ready.catch((error: unknown) => {
      this.options.logger.error(`JetStream consumer for "${pattern}" on stream ${this.streamName} failed: ${String(error)}`);
    });
    return {
      ready,
      stop: () => {
        stopped = true;
        messages?.stop();
      },
    };
  }
}
