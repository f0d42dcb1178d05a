/**
 * One actor's per-round measurements, written to metrics.jsonl when the round's evaluation
 * ends. Its state is part of what an actor persists, so a restarted actor goes on counting.
 */
import type { Clock } from '../core/clock/clock.js';
import type { Evaluation } from '../core/learning/evaluation.js';
import type { ActorEndpoint } from './endpoint.js';
import type { RunRecorder } from './run-recorder.js';
import type { RoundMetrics } from '../core/records.js';

export interface RoundMeterState {
  roundStart: number;
  bytesSentAtStart: number;
  bytesReceivedAtStart: number;
  trainLoss: number | null;
  distillLoss: number | null;
  publicCE: number | null;
  extra: Record<string, unknown>;
  /** Clock times of this round's moments that later figures are timed from (the announcement, ...). */
  marks?: Record<string, number>;
}

export class RoundMeter {
  private s: RoundMeterState;

  constructor(
    private readonly actor: string,
    private readonly role: RoundMetrics['role'],
    private readonly clock: Clock,
    private readonly endpoint: ActorEndpoint,
    saved?: RoundMeterState,
  ) {
    this.s = saved ? { ...saved, extra: { ...saved.extra }, marks: { ...saved.marks } } : this.fresh();
  }

  set trainLoss(loss: number) {
    this.s.trainLoss = finiteOrNull(loss);
  }

  set distillLoss(loss: number) {
    this.s.distillLoss = finiteOrNull(loss);
  }

  set publicCE(values: ArrayLike<number>) {
    this.s.publicCE = mean(values);
  }

  /** A figure of this round beyond the common ones (teacher shares, uploads, ...). */
  note(key: string, value: unknown): void {
    this.s.extra[key] = value;
  }

  /** Note when a moment of this round happens, kept with the meter's state: a restarted actor times from it still. */
  mark(name: string): void {
    (this.s.marks ??= {})[name] = this.clock.now();
  }

  /** Seconds since this round's `mark(name)`, or null when it was not marked. */
  secondsSince(name: string): number | null {
    const at = this.s.marks?.[name];
    return at === undefined ? null : (this.clock.now() - at) / 1000;
  }

  /** Record the round's metrics with its evaluation, and start counting the next round. */
  close(round: number, evaluation: Evaluation, recorder: RunRecorder): void {
    const { s, endpoint, clock } = this;
    recorder.metric({
      round,
      actor: this.actor,
      role: this.role,
      accuracy: finiteOrNull(evaluation.accuracy),
      accuracyNorm: finiteOrNull(evaluation.accuracyNorm),
      publicCE: s.publicCE,
      trainLoss: s.trainLoss,
      distillLoss: s.distillLoss,
      bytesUp: endpoint.bytesSent - s.bytesSentAtStart,
      bytesDown: endpoint.bytesReceived - s.bytesReceivedAtStart,
      virtualSeconds: (clock.now() - s.roundStart) / 1000,
      ...s.extra,
    });
    this.s = this.fresh();
  }

  state(): RoundMeterState {
    return { ...this.s, extra: { ...this.s.extra }, marks: { ...this.s.marks } };
  }

  private fresh(): RoundMeterState {
    return {
      roundStart: this.clock.now(),
      bytesSentAtStart: this.endpoint.bytesSent,
      bytesReceivedAtStart: this.endpoint.bytesReceived,
      trainLoss: null,
      distillLoss: null,
      publicCE: null,
      extra: {},
      marks: {},
    };
  }
}

function mean(values: ArrayLike<number>): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s / values.length;
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
