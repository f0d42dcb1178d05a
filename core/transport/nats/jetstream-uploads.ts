import { createHash } from 'node:crypto';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type NatsConnection, backoff, delay, nanos } from '@nats-io/transport-node';
import { subjectMatches } from '../../protocol/subjects.js';
import type { NatsTransportLogger } from './logger.js';
import { NatsPermissionError, describe, permissionViolation } from './permission-error.js';
import type { FrameOutcome, ReassembledMessage, Reassembler } from './reassembler.js';
import { nameToken, patternWithin, patternsOverlap, uploadStreamName, uploadSubjects } from './subject-rules.js';

export interface JetStreamUploadsOptions {
  run: string;
  storage: 'file' | 'memory';
  /** Prefix of the durable consumer names this connection creates (one per subscription pattern). */
  durablePrefix: string;
  /** Nats-Msg-Id de-duplication window of the stream: longer than any upload's retries. */
  duplicateWindowMs: number;
  /** How long a delivered, unacknowledged chunk waits before JetStream delivers it again. */
  ackWaitMs: number;
  /** Chunks published before waiting for their acknowledgements. */
  window: number;
  logger: NatsTransportLogger;
  /** Credential user, for permission errors. */
  user: string | undefined;
  /** Resolves at once while connected; else once the client has reconnected, or after `ms`. */
  untilConnected(ms: number): Promise<void>;
}

export interface UploadConsumer {
  /** Resolves when the durable consumer exists and delivers. */
  ready: Promise<void>;
  /** Stops delivery; chunks held for incomplete messages go back to the stream at once. */
  stop(): void;
}

const MAX_AGE_MS = 24 * 3600_000;
/** Chunks a consumer has in flight: 64 MiB at the default 1 MiB max_payload. */
const CONSUME_BATCH = 64;

/**
 * Durable uploads over JetStream. A work-queue stream over the run's upload subjects stores
 * every chunk; its `Nats-Msg-Id` (`<sender>|<message id>|<chunk>`) makes a retried chunk a
 * duplicate the stream drops, so a publish is retried with the same ids until the stream has
 * acknowledged every chunk. The receiver reads through a durable pull consumer with explicit
 * acks: a message's chunks are acknowledged once the whole message has been handed to its
 * handler, so chunks of a message not yet delivered survive a receiver that dies and a
 * nats-server restart (file storage), and are delivered again.
 */
export class JetStreamUploads {
  readonly streamName: string;
  readonly subjects: string[];
  private readonly js: JetStreamClient;
  private manager: Promise<JetStreamManager> | undefined;
  private stream: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: JetStreamUploadsOptions,
  ) {
    this.streamName = uploadStreamName(options.run);
    this.subjects = uploadSubjects(options.run);
    this.js = jetstream(nc);
  }

  /** Whether the stream holds `subject`. */
  covers(subject: string): boolean {
    return this.subjects.some((pattern) => subjectMatches(pattern, subject));
  }

  /** Whether some subject matching `pattern` is in the stream. */
  overlaps(pattern: string): boolean {
    return this.subjects.some((s) => patternsOverlap(pattern, s));
  }

  /** Whether every subject matching `pattern` is in the stream (core NATS has nothing else for it). */
  contains(pattern: string): boolean {
    return this.subjects.some((s) => patternWithin(pattern, s));
  }

  ensureStream(): Promise<void> {
    this.stream ??= this.createStream().catch((error: unknown) => {
      this.stream = undefined;
      const denied = permissionViolation(error);
      if (denied) throw new NatsPermissionError('publish', denied.subject, this.options.user);
      throw new Error(`JetStream stream ${this.streamName} over ${this.subjects.join(', ')} could not be created: ${describe(error)}`);
    });
    return this.stream;
  }

  private jsm(): Promise<JetStreamManager> {
    this.manager ??= jetstreamManager(this.nc).catch((error: unknown) => {
      this.manager = undefined;
      throw error;
    });
    return this.manager;
  }

  private async createStream(): Promise<void> {
    const jsm = await this.jsm();
    const exists = () => jsm.streams.info(this.streamName).then(() => true);
    if (await exists().catch(() => false)) return;
    try {
      await jsm.streams.add({
        name: this.streamName,
        subjects: this.subjects,
        storage: this.options.storage === 'memory' ? StorageType.Memory : StorageType.File,
        // A chunk leaves the stream once the receiver acknowledged it.
        retention: RetentionPolicy.Workqueue,
        discard: DiscardPolicy.Old,
        max_age: nanos(MAX_AGE_MS),
        duplicate_window: nanos(this.options.duplicateWindowMs),
      });
    } catch (error) {
      // Another actor may have created it in the meantime.
      if (!(await exists().catch(() => false))) throw error;
    }
  }

  /** Remove every chunk the stream holds; how many there were. */
  async purge(): Promise<number> {
    await this.ensureStream();
    return (await (await this.jsm()).streams.purge(this.streamName)).purged;
  }

  /**
   * Store every frame in the stream, `window` at a time. A chunk whose publish fails (no
   * acknowledgement, a reconnect, the stream not yet there) is sent again with the same
   * Nats-Msg-Id until `deadline`; a permission error ends the publish at once.
   */
  async publish(subject: string, frames: Uint8Array[], dedupBase: string, timeoutMs: number, deadline: number): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < frames.length) {
        const index = next++;
        await this.publishChunk(subject, frames[index] as Uint8Array, `${dedupBase}|${index}`, timeoutMs, deadline);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.window, frames.length) }, worker));
  }

  private async publishChunk(subject: string, frame: Uint8Array, msgID: string, timeoutMs: number, deadline: number): Promise<void> {
    const delays = backoff([100, 250, 500, 1_000, 2_000]);
    let failure = '';
    for (let attempt = 0; ; attempt++) {
      try {
        // nats.js drops what is written while disconnected: a publish then would only time out.
        await this.options.untilConnected(Math.max(0, deadline - Date.now()));
        await this.ensureStream();
        const ack = await this.js.publish(subject, frame, { msgID, timeout: timeoutMs });
        if (ack.stream !== this.streamName) {
          throw new Error(`chunk ${msgID} on "${subject}" was stored by stream ${ack.stream}, expected ${this.streamName}`);
        }
        return;
      } catch (error) {
        if (error instanceof NatsPermissionError) throw error;
        const denied = permissionViolation(error);
        if (denied) throw new NatsPermissionError('publish', denied.subject, this.options.user);
        if (this.nc.isClosed()) throw new Error(`NatsTransport: connection closed while storing chunk ${msgID} of "${subject}": ${describe(error)}`);
        failure = describe(error);
        const left = deadline - Date.now();
        if (left <= 0) break;
        if (attempt === 0)
          this.options.logger.warn(`JetStream publish of chunk ${msgID} to "${subject}" failed: ${failure}; retrying for up to ${Math.round(left)} ms`);
        // A stream lost with a memory store comes back on the next attempt.
        if (/no responders|not enabled|stream not found/i.test(failure)) this.stream = undefined;
        await delay(Math.min(left, delays.backoff(attempt)));
      }
    }
    throw new Error(`JetStream publish of chunk ${msgID} to "${subject}" was not acknowledged by stream ${this.streamName} within its time budget: ${failure}`);
  }

  /**
   * Deliver the messages of `pattern` from the stream, reassembled, through a durable consumer
   * of this connection. `reassembler` is made with the callback that hands back the chunks of a
   * partial message it drops.
   */
  consume(pattern: string, newReassembler: (onDiscard: (key: string) => void) => Reassembler, deliver: (message: ReassembledMessage) => void): UploadConsumer {
    const held = new Map<string, JsMsg[]>();
    const release = (key: string, how: 'ack' | 'nak' | 'term') => {
      const chunks = held.get(key) ?? [];
      held.delete(key);
      if (!this.nc.isClosed()) for (const m of chunks) m[how]();
    };
    const reassembler = newReassembler((key) => release(key, 'nak'));
    const take = (message: JsMsg) => {
      if (!subjectMatches(pattern, message.subject)) {
        message.ack();
        return;
      }
      const outcome: FrameOutcome = reassembler.accept(message.subject, message.data);
      switch (outcome.kind) {
        case 'malformed':
          message.term();
          return;
        case 'partial':
          held.set(outcome.key, [...(held.get(outcome.key) ?? []), message]);
          return;
        case 'duplicate':
          message.ack();
          return;
        case 'corrupt':
          release(outcome.key, 'term');
          message.term();
          return;
        case 'complete':
          // Acknowledged only once the handler has it: a receiver that dies first gets it again.
          deliver(outcome.message);
          release(outcome.key, 'ack');
          message.ack();
      }
    };
    let stopped = false;
    let messages: ConsumerMessages | undefined;
    const report = (error: unknown) => this.options.logger.error(`JetStream consumer for "${pattern}" on stream ${this.streamName} failed: ${describe(error)}`);
    const start = async (): Promise<void> => {
      const started = await this.startConsumer(pattern, take);
      messages = started;
      if (stopped) started.stop();
      // A stream kept in memory comes back empty after a nats-server restart, without the consumer: make both again.
      else
        void this.untilLost(pattern, started).then((lost) => {
          if (lost && !stopped) start().catch(report);
        });
    };
    const ready = start();
    ready.catch(report);
    return {
      ready,
      stop: () => {
        stopped = true;
        messages?.stop();
        reassembler.close();
      },
    };
  }

  private async startConsumer(pattern: string, take: (message: JsMsg) => void): Promise<ConsumerMessages> {
    await this.ensureStream();
    const jsm = await this.jsm();
    const durable = `${nameToken(this.options.durablePrefix)}_${createHash('sha256').update(pattern).digest('hex').slice(0, 12)}`;
    // A filter must lie inside the stream's subjects; a wider pattern reads everything and filters here.
    const filter = this.contains(pattern) ? pattern : undefined;
    await jsm.consumers.add(this.streamName, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.options.ackWaitMs),
      ...(filter === undefined ? {} : { filter_subject: filter }),
    });
    const consumer = await this.js.consumers.get(this.streamName, durable);
    return consumer.consume({ max_messages: CONSUME_BATCH, callback: take });
  }

  /** True once the server has lost the consumer or its stream (then `messages` is stopped); false when it stops otherwise. */
  private async untilLost(pattern: string, messages: ConsumerMessages): Promise<boolean> {
    for await (const status of messages.status()) {
      if (status.type === 'consumer_deleted' || status.type === 'consumer_not_found' || status.type === 'stream_not_found') {
        this.options.logger.warn(`JetStream consumer for "${pattern}" on stream ${this.streamName}: ${status.type}; making it again`);
        messages.stop();
        this.stream = undefined;
        return true;
      }
    }
    return false;
  }
}
