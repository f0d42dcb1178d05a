import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { type NatsConnection, type Subscription as NatsSubscription, type Status, type TlsOptions, connect, nkeyAuthenticator } from '@nats-io/transport-node';
import type { MessageHandler, PublishOptions, Subscription, Transport } from './transport.js';
import { encodeFrames } from './nats/frame.js';
import { JetStreamUploads, type UploadConsumer } from './nats/jetstream-uploads.js';
import { type NatsTransportLogger, consoleLogger } from './nats/logger.js';
import { NatsPermissionError, describe, permissionViolation } from './nats/permission-error.js';
import { type FrameOutcome, type ReassembledMessage, Reassembler } from './nats/reassembler.js';
import { isUploadSubject, subjectProblem } from './nats/subject-rules.js';
import { type AckReply, type PendingAck, UploadAcks, encodeAck } from './nats/upload-acks.js';

export type { NatsTransportLogger } from './nats/logger.js';
export { NatsPermissionError } from './nats/permission-error.js';

/**
 * How uploads (slm-logits, adapter) are acknowledged (docs/nats.md says why the default):
 * - `request-reply` (default): core NATS; every chunk carries a reply inbox and the receiver
 *   replies once it has reassembled and verified the whole upload.
 * - `jetstream`: durable; chunks go into a stream over the run's upload subjects (de-duplicated
 *   by Nats-Msg-Id); the publish resolves when the stream has stored every chunk; the receiver
 *   reads through a durable consumer and acknowledges a message's chunks once it has it.
 */
export type UploadAckMode = 'request-reply' | 'jetstream';

export interface NatsTransportOptions {
  servers: string | string[];
  /** Connection name shown by the server's monitoring (e.g. the actor id). */
  name?: string;
  /** The user: logs in with `pass`; with `nkeySeed` it only names the connection in error messages. */
  user?: string;
  pass?: string;
  /** Log in with an NKey (`fedmkt nats-config`): the user's seed (`SU...`) signs the server's nonce. */
  nkeySeed?: string;
  /** Inbox prefix for acknowledgements; must match the credential's permissions (`_INBOX.<actor>`). */
  inboxPrefix?: string;
  tls?: TlsOptions;
  uploadAcks?: UploadAckMode;
  /** The run whose upload subjects the JetStream stream holds; required with `uploadAcks: 'jetstream'`. */
  run?: string;
  /** JetStream storage of the upload stream (default `file`: it survives a nats-server restart). */
  jetStreamStorage?: 'file' | 'memory';
  /** How long a chunk the receiver has not acknowledged waits before JetStream delivers it again (default 30 s). */
  jetStreamAckWaitMs?: number;
  /** Prefix of durable consumer names (default: `name`, else `fedmkt`). */
  durablePrefix?: string;
  /** Acknowledgement wait per attempt: `ackTimeoutMs + ackTimeoutPerMiBMs * MiB` (defaults 5000 and 200). */
  ackTimeoutMs?: number;
  ackTimeoutPerMiBMs?: number;
  /** Attempts per publish, the first included (default 5). */
  maxAttempts?: number;
  /** A partial message with no new chunk for this long is dropped (default 30 s). */
  reassemblyTimeoutMs?: number;
  /** Largest message a subscription accepts (default 1 GiB). */
  maxMessageBytes?: number;
  /** Delivered message ids remembered per subscription for de-duplication (default 10000). */
  dedupCapacity?: number;
  /** Wait between reconnect attempts (default 250 ms); attempts are unlimited unless `maxReconnectAttempts`. */
  reconnectTimeWaitMs?: number;
  maxReconnectAttempts?: number;
  logger?: NatsTransportLogger;
}

/** Room left in each JetStream frame for the Nats-Msg-Id header. */
const JETSTREAM_HEADER_RESERVE = 1024;
const DRAIN_TIMEOUT_MS = 10_000;
/** Nats-Msg-Id de-duplication window of the upload stream: longer than an upload's retries. */
const DUPLICATE_WINDOW_MS = 120_000;
const MiB = 1024 * 1024;
const NO_RESPONDERS = Symbol('no responders');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface ActiveSubscription {
  /** Absent when the JetStream consumer carries everything the pattern matches. */
  nats: NatsSubscription | undefined;
  reassembler: Reassembler;
  consumer: UploadConsumer | undefined;
}

/** nats.js hands out its QueuedIterator typed as a plain AsyncIterable. */
function stopIterator(iterable: AsyncIterable<unknown>): void {
  const candidate = iterable as { stop?: unknown };
  if (typeof candidate.stop === 'function') candidate.stop();
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * {@link Transport} over a nats-server. Messages larger than the server's max_payload are
 * split into frames and reassembled with a checksum of the whole; uploads are acknowledged
 * and retried (receivers de-duplicate by message id), by request/reply or through JetStream;
 * publishes interrupted by a disconnect are retried after the client reconnects; close() drains.
 */
export class NatsTransport implements Transport {
  private readonly logger: NatsTransportLogger;
  private readonly acks: UploadAcks;
  private readonly jetStream: JetStreamUploads | undefined;
  private readonly subscriptions = new Set<ActiveSubscription>();
  private readonly denials = new Map<string, number>();
  private readonly statusEvents: AsyncIterable<Status>;
  private readonly statusLoop: Promise<void>;
  private statusSequence = 0;
  private connected = true;
  private reconnectWaiters: Array<() => void> = [];
  private knownMaxPayload: number;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly options: NatsTransportOptions,
  ) {
    this.logger = options.logger ?? consoleLogger;
    this.knownMaxPayload = nc.info?.max_payload ?? MiB;
    this.acks = new UploadAcks(nc, options.inboxPrefix ?? '_INBOX', this.logger);
    if (options.uploadAcks === 'jetstream' && options.run) {
      this.jetStream = new JetStreamUploads(nc, {
        run: options.run,
        storage: options.jetStreamStorage ?? 'file',
        durablePrefix: options.durablePrefix ?? options.name ?? 'fedmkt',
        duplicateWindowMs: DUPLICATE_WINDOW_MS,
        ackWaitMs: options.jetStreamAckWaitMs ?? 30_000,
        window: 16,
        logger: this.logger,
        user: options.user,
        untilConnected: (ms) => this.untilConnected(ms),
      });
    }
    this.statusEvents = nc.status();
    this.statusLoop = this.watchStatus();
  }

  static async connect(options: NatsTransportOptions): Promise<NatsTransport> {
    const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
    if (options.uploadAcks === 'jetstream' && !options.run) {
      throw new Error("NatsTransport: uploadAcks 'jetstream' needs options.run (the run whose uploads the stream holds)");
    }
    let nc: NatsConnection;
    try {
      const login = options.nkeySeed
        ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed)) }
        : options.pass !== undefined
          ? { user: options.user, pass: options.pass }
          : {};
      nc = await connect({
        servers,
        name: options.name,
        ...login,
        inboxPrefix: options.inboxPrefix,
        tls: options.tls,
        reconnect: true,
        maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
        reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
        reconnectJitter: 50,
        pingInterval: 5_000,
        maxPingOut: 3,
      });
    } catch (error) {
      throw new Error(`NatsTransport: could not connect to ${servers.join(', ')} as ${options.user ?? '(anonymous)'}: ${describe(error)}`);
    }
    const transport = new NatsTransport(nc, options);
    if (transport.jetStream) {
      try {
        await transport.jetStream.ensureStream();
      } catch (error) {
        await nc.close();
        throw error;
      }
    }
    return transport;
  }

  /** The server's max_payload (bytes) as last reported; frames never exceed it. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? this.knownMaxPayload;
  }

  /** URL of the server this client is connected to now. */
  get server(): string {
    return this.nc.getServer();
  }

  async publish(subject: string, data: Uint8Array, options: PublishOptions): Promise<void> {
    this.assertOpen(`publish to "${subject}"`);
    const problem = subjectProblem(subject, false);
    if (problem) throw new Error(`NatsTransport.publish: invalid subject "${subject}": ${problem}`);
    if (!options.messageId) throw new Error(`NatsTransport.publish to "${subject}": options.messageId is empty (needed for de-duplication)`);
    const maxAttempts = this.options.maxAttempts ?? 5;
    const timeoutMs = (this.options.ackTimeoutMs ?? 5_000) + ((this.options.ackTimeoutPerMiBMs ?? 200) * data.length) / MiB;
    const upload = isUploadSubject(subject);
    const frameOptions = { sender: options.sender, messageId: options.messageId };

    // A subject nobody subscribes to yet, or a stream that cannot take a chunk now, costs waits
    // within the upload's time budget, not attempts.
    const deadline = Date.now() + maxAttempts * timeoutMs;
    if (upload && this.jetStream?.covers(subject)) {
      const frames = encodeFrames(data, { ...frameOptions, maxFrameBytes: this.maxPayload - JETSTREAM_HEADER_RESERVE });
      await this.jetStream.publish(subject, frames, `${options.sender}|${options.messageId}`, timeoutMs, deadline);
      return;
    }

    const pending = upload ? this.acks.expect() : undefined;
    let frames: Uint8Array[] = [];
    let framedFor = 0;
    let failure = '';
    let attempt = 0;
    let waits = 0;
    try {
      while (attempt < maxAttempts) {
        if (framedFor !== this.maxPayload) {
          framedFor = this.maxPayload;
          frames = encodeFrames(data, { ...frameOptions, maxFrameBytes: framedFor });
        }
        pending?.resetNoResponders();
        const result = await this.attempt(subject, frames, pending, timeoutMs);
        if (result === undefined) return;
        if (this.closing) throw new Error(`NatsTransport: closed while publishing ${options.messageId} to "${subject}"`);
        if (result === NO_RESPONDERS) {
          failure = `nothing subscribes to "${subject}" (the server answered no responders)`;
          const left = deadline - Date.now();
          if (left <= 0) break;
          if (waits === 0) this.logger.warn(`publish of ${options.messageId} to "${subject}": no subscriber yet; retrying for up to ${Math.round(left)} ms`);
          await sleep(Math.min(left, 2_000, 25 * 2 ** waits++));
          continue;
        }
        attempt++;
        failure = result;
        if (attempt < maxAttempts) {
          this.logger.warn(
            `publish of ${options.messageId} from ${options.sender} to "${subject}" failed (attempt ${attempt} of ${maxAttempts}): ${failure}; retrying`,
          );
        }
      }
    } finally {
      pending?.done();
    }
    throw new Error(`NatsTransport.publish of ${options.messageId} from ${options.sender} to "${subject}" failed after ${attempt} attempts: ${failure}`);
  }

  /**
   * One try: undefined on success, NO_RESPONDERS when nobody subscribes, else why it failed.
   * A permission denial throws: retrying cannot help.
   */
  private async attempt(
    subject: string,
    frames: Uint8Array[],
    pending: PendingAck | undefined,
    timeoutMs: number,
  ): Promise<string | typeof NO_RESPONDERS | undefined> {
    await this.untilConnected(timeoutMs);
    const mark = this.statusSequence;
    try {
      for (const frame of frames) this.nc.publish(subject, frame, pending ? { reply: pending.reply } : undefined);
      // The flush's PONG means the server has read every frame; a disconnect rejects it.
      await withTimeout(this.nc.flush(), timeoutMs, 'flush');
    } catch (error) {
      if (this.nc.isClosed()) throw new Error(`NatsTransport: connection closed while publishing to "${subject}": ${describe(error)}`);
      return describe(error);
    }
    // A permission error arrives before the PONG; let the status loop record it first.
    await nextMacrotask();
    const deniedAt = this.denials.get(subject);
    if (deniedAt !== undefined && deniedAt > mark) throw new NatsPermissionError('publish', subject, this.options.user);
    if (!pending) return undefined;
    const reply = await pending.next(timeoutMs);
    if (reply === 'no-responders') return NO_RESPONDERS;
    if (reply === 'timeout') return `no acknowledgement within ${Math.round(timeoutMs)} ms`;
    return reply.ok ? undefined : `the receiver rejected it: ${reply.reason}`;
  }

  subscribe(pattern: string, handler: MessageHandler): Subscription {
    this.assertOpen(`subscribe to "${pattern}"`);
    const problem = subjectProblem(pattern, true);
    if (problem) throw new Error(`NatsTransport.subscribe: invalid pattern "${pattern}": ${problem}`);
    const reassembler = this.newReassembler(`"${pattern}"`);
    const jetStream = this.jetStream;
    const deliver = (message: ReassembledMessage) => this.deliver(pattern, handler, message);
    const active: ActiveSubscription = {
      // The durable consumer delivers what the stream holds; core NATS the rest.
      nats: jetStream?.contains(pattern) ? undefined : this.subscribeCore(pattern, reassembler, deliver),
      reassembler,
      consumer: jetStream?.overlaps(pattern)
        ? jetStream.consume(pattern, (onDiscard) => this.newReassembler(`"${pattern}" (JetStream)`, onDiscard), deliver)
        : undefined,
    };
    this.subscriptions.add(active);
    return {
      unsubscribe: () => {
        if (!this.subscriptions.delete(active)) return;
        active.consumer?.stop();
        if (!this.nc.isClosed()) active.nats?.unsubscribe();
        active.reassembler.close();
      },
    };
  }

  private subscribeCore(pattern: string, reassembler: Reassembler, deliver: (message: ReassembledMessage) => void): NatsSubscription {
    return this.nc.subscribe(pattern, {
      callback: (error, msg) => {
        if (error) {
          this.logger.error(
            permissionViolation(error)
              ? new NatsPermissionError('subscription', pattern, this.options.user).message
              : `subscription to "${pattern}" failed: ${error.message}`,
          );
          return;
        }
        if (this.jetStream?.covers(msg.subject)) return;
        const outcome = reassembler.accept(msg.subject, msg.data);
        if (msg.reply) this.acknowledge(msg.reply, outcome);
        if (outcome.kind === 'complete') deliver(outcome.message);
      },
    });
  }

  /** For the JetStream variant: empties the upload stream (a resumed run makes its uploads again); the chunks removed. */
  async discardStoredUploads(): Promise<number> {
    return this.jetStream ? this.jetStream.purge() : 0;
  }

  /** For the JetStream variant: resolves when every subscription's durable consumer is ready. */
  async ready(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.consumer?.ready));
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      for (const s of this.subscriptions) s.consumer?.stop();
      try {
        if (!this.nc.isClosed()) await withTimeout(this.nc.drain(), DRAIN_TIMEOUT_MS, 'drain');
      } catch (error) {
        this.logger.warn(`close: ${describe(error)}; closing without draining`);
        await this.nc.close();
      }
      for (const s of this.subscriptions) s.reassembler.close();
      this.subscriptions.clear();
      this.acks.close();
      for (const wake of this.reconnectWaiters) wake();
      // Not every nats.js version ends status iterators on close.
      stopIterator(this.statusEvents);
      await this.statusLoop;
    })();
    return this.closing;
  }

  private newReassembler(context: string, onDiscard?: (key: string) => void): Reassembler {
    return new Reassembler({
      timeoutMs: this.options.reassemblyTimeoutMs ?? 30_000,
      maxMessageBytes: this.options.maxMessageBytes ?? 1024 * MiB,
      dedupCapacity: this.options.dedupCapacity ?? 10_000,
      logger: this.logger,
      context,
      onDiscard,
    });
  }

  private acknowledge(reply: string, outcome: FrameOutcome): void {
    let ack: AckReply | undefined;
    if (outcome.kind === 'complete' || (outcome.kind === 'duplicate' && outcome.lastChunk)) ack = { ok: true };
    else if (outcome.kind === 'corrupt') ack = { ok: false, reason: outcome.reason };
    if (!ack) return;
    try {
      this.nc.publish(reply, encodeAck(ack));
    } catch (error) {
      this.logger.error(`could not acknowledge on ${reply}: ${describe(error)}`);
    }
  }

  private deliver(pattern: string, handler: MessageHandler, message: ReassembledMessage): void {
    const { subject, data, messageId, sender } = message;
    try {
      handler({ subject, data });
    } catch (error) {
      this.logger.error(`handler of "${pattern}" threw on ${messageId} from ${sender} (${subject}): ${describe(error)}`);
    }
  }

  /** Resolves at once while connected; else once the client has reconnected, or after `ms`. */
  private untilConnected(ms: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.reconnectWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.statusEvents) {
      this.statusSequence++;
      switch (status.type) {
        case 'disconnect':
          this.connected = false;
          this.logger.warn(`disconnected from ${status.server}; reconnecting`);
          break;
        case 'reconnect': {
          this.connected = true;
          this.knownMaxPayload = this.nc.info?.max_payload ?? this.knownMaxPayload;
          this.logger.warn(`reconnected to ${status.server}`);
          const waiters = this.reconnectWaiters;
          this.reconnectWaiters = [];
          for (const wake of waiters) wake();
          break;
        }
        case 'error': {
          const denied = permissionViolation(status.error);
          if (denied?.operation === 'publish') {
            this.denials.set(denied.subject, this.statusSequence);
            this.logger.error(new NatsPermissionError('publish', denied.subject, this.options.user).message);
          } else if (!denied) {
            this.logger.error(`server error: ${status.error.message}`);
          }
          break;
        }
        default:
          break;
      }
    }
  }

  private assertOpen(what: string): void {
    if (this.closing || this.nc.isClosed()) throw new Error(`NatsTransport: cannot ${what}: the transport is closed`);
  }
}
