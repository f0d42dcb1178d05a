/**
 * The records of a run, as `events.jsonl`, `metrics.jsonl` and `timings.jsonl` hold them: what
 * every layer reads (the invariant checker, the report, the live view) and the recorder writes.
 */
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
  // Populations: who a round was announced to, whose uploads it did without, and the population itself.
  | 'selection'
  | 'stragglers'
  | 'population'
  // Buffered and asynchronous modes: an upload as it teaches an LLM version, with its staleness.
  | 'used'
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
  // A run resumed from its round checkpoints (fedmkt run --resume).
  | 'resume'
  // Deployment over NATS: a process announcing its actor before the first round, and, when the
  // deployment resumes, each actor's checkpointed rounds and the round the server resumes after.
  | 'presence'
  | 'resume-offer'
  | 'resume-cut';

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

/** An event as the invariant checker reads it: any kind, any details. */
export interface TraceEvent {
  t: number;
  actor: string;
  round: number;
  kind: string;
  [detail: string]: unknown;
}
