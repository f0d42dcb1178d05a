/**
 * What a run leaves behind. `events.jsonl` and `metrics.jsonl` hold only virtual-time and
 * seeded figures, so the same scenario and seed write byte-identical files; wall-clock
 * figures go to `timings.jsonl` alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type EventKind =
  | 'state'
  | 'send'
  | 'deliver'
  | 'reject'
  | 'accepted'
  | 'ignored'
  | 'quorum'
  | 'deadline'
  | 'selected'
  | 'alignment'
  // Fault decisions (core/faults): message faults, as each receiver met them...
  | 'drop'
  | 'delay'
  | 'duplicate'
  | 'reorder'
  | 'corrupt'
  | 'partition'
  // ...and actor faults.
  | 'crash'
  | 'restart'
  | 'dropout'
  | 'rejoin'
  | 'straggler'
  // Deployment over NATS: a process announcing its actor before the first round.
  | 'presence';

export interface RunEvent {
  /** Clock ms (virtual for local runs). */
  t: number;
  actor: string;
  round: number;
  kind: EventKind;
  [detail: string]: unknown;
}

export interface RoundMetrics {
  round: number;
  actor: string;
  role: 'server' | 'client';
  /** Multiple-choice accuracy on the held-out split (lm-eval-harness `acc`). */
  accuracy: number | null;
  accuracyNorm: number | null;
  /** Mean per-sample cross-entropy on the public set (the DualMinCE figure). */
  publicCE: number | null;
  trainLoss: number | null;
  distillLoss: number | null;
  bytesUp: number;
  bytesDown: number;
  /** Virtual seconds the round took for this actor. */
  virtualSeconds: number;
  [detail: string]: unknown;
}

export interface Timing {
  actor: string;
  round: number;
  state: string;
  wallSeconds: number;
}

export type EventListener = (event: RunEvent) => void;

export class RunRecorder {
  readonly events: RunEvent[] = [];
  readonly metrics: RoundMetrics[] = [];
  readonly timings: Timing[] = [];
  private readonly listeners: EventListener[] = [];

  event(event: RunEvent): void {
    this.events.push(event);
    for (const l of this.listeners) l(event);
  }

  metric(m: RoundMetrics): void {
    this.metrics.push(m);
  }

  timing(t: Timing): void {
    this.timings.push(t);
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  /** Write events.jsonl, metrics.jsonl and timings.jsonl into `dir`. */
  write(dir: string): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'events.jsonl'), jsonl(this.events));
    writeFileSync(join(dir, 'metrics.jsonl'), jsonl(this.metrics));
    writeFileSync(join(dir, 'timings.jsonl'), jsonl(this.timings));
  }
}

function jsonl(rows: readonly object[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
}
