/**
 * An actor's door to the transport: encodes and publishes its messages, decodes and
 * validates what arrives, and records both. A message that fails decoding or comes from an
 * unknown sender is recorded as `reject` and dropped: it never reaches a machine.
 */
import type { Clock } from '../core/clock/clock.js';
import { decodeMessage, encodeMessage, type DecodeContext, type LogitEncoding } from '../core/protocol/codec.js';
import { PROTOCOL_VERSION, type ActorId, type Envelope, type MessageBody } from '../core/protocol/messages.js';
import { messageSubject } from '../core/protocol/subjects.js';
import type { Subscription, Transport } from '../core/transport/transport.js';
import type { RunRecorder } from './run-recorder.js';

export interface EndpointOptions {
  run: string;
  actor: ActorId;
  transport: Transport;
  clock: Clock;
  recorder: RunRecorder;
  decode: DecodeContext;
  /** Current round of the owning actor, for event records. */
  round: () => number;
  /** How logit payloads are encoded on the wire (scenario `protocol.logitEncoding`); default 'f32'. */
  logitEncoding?: LogitEncoding;
  /** Counters of an earlier incarnation of this actor (restart after a crash): ids stay unique. */
  resume?: EndpointState;
  /** Resuming a run: the highest sequence number its ids used; new ids go on after it. */
  usedSequence?: number;
  /** Told apart from the actor's earlier lives (a population's client, brought up for round r: `@r`): its ids stay unique. */
  life?: string;
}

/** What an endpoint persists across a crash. */
export interface EndpointState {
  sequence: number;
  bytesSent: number;
  bytesReceived: number;
}

export class ActorEndpoint {
  private sequence = 0;
  private readonly subscriptions: Subscription[] = [];
  private closed = false;
  bytesSent = 0;
  bytesReceived = 0;

  constructor(private readonly options: EndpointOptions) {
    if (options.resume) {
      this.sequence = options.resume.sequence;
      this.bytesSent = options.resume.bytesSent;
      this.bytesReceived = options.resume.bytesReceived;
    }
    this.sequence = Math.max(this.sequence, options.usedSequence ?? 0);
  }

  state(): EndpointState {
    return { sequence: this.sequence, bytesSent: this.bytesSent, bytesReceived: this.bytesReceived };
  }

  /** Encode, record and publish one message for `round` (nothing once closed: the actor is gone). */
  async send(round: number, body: MessageBody): Promise<void> {
    if (this.closed) return;
    const { run, actor, transport, clock, recorder } = this.options;
    const envelope: Envelope = { v: PROTOCOL_VERSION, run, round, sender: actor, id: `${actor}${this.options.life ?? ''}:${++this.sequence}`, body };
    const bytes = encodeMessage(envelope, { logits: this.options.logitEncoding ?? 'f32' });
    const subject = messageSubject(run, round, body.type, actor, body.type === 'round-start' ? body.to : undefined);
    this.bytesSent += bytes.byteLength;
    recorder.event({ t: clock.now(), actor, round, kind: 'send', type: body.type, id: envelope.id, subject, bytes: bytes.byteLength });
    await transport.publish(subject, bytes, { sender: actor, messageId: envelope.id });
  }

  /** Deliver decoded, validated envelopes from these subject patterns to `handler`. */
  listen(patterns: readonly string[], handler: (envelope: Envelope) => void): void {
    const { actor, transport, clock, recorder } = this.options;
    for (const pattern of patterns) {
      this.subscriptions.push(
        transport.subscribe(pattern, ({ subject, data }) => {
          let envelope: Envelope;
          try {
            envelope = decodeMessage(data, this.options.decode);
          } catch (error) {
            recorder.event({
              t: clock.now(),
              actor,
              round: this.options.round(),
              kind: 'reject',
              subject,
              bytes: data.byteLength,
              error: (error as Error).message,
            });
            return;
          }
          this.bytesReceived += data.byteLength;
          recorder.event({
            t: clock.now(),
            actor,
            round: this.options.round(),
            kind: 'deliver',
            type: envelope.body.type,
            id: envelope.id,
            from: envelope.sender,
            msgRound: envelope.round,
            bytes: data.byteLength,
          });
          handler(envelope);
        }),
      );
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions.length = 0;
  }
}
