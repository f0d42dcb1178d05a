/**
 * What an experiment compares: its settings, the methods (rows) of each, and one method's
 * result on one seed.
 */
import type { LogitEncoding } from '../../core/protocol/codec.js';
import type { Communication } from './communication.js';
import type { Score } from './evaluate.js';

export const SETTINGS = ['heterogeneous', 'homogeneous', 'one-to-one'] as const;
export type Setting = (typeof SETTINGS)[number];
export const LOGIT_ENCODINGS: readonly LogitEncoding[] = ['f32', 'f16', 'q8'];

export type MethodKind = 'slm-zs' | 'llm-zs' | 'standalone' | 'fedavg' | 'llm2slm' | 'centralized' | 'fedmkt';

export interface MethodSpec {
  /** Stable id: `slm-zs`, `fedmkt-q8`, ... (what `--methods` filters on). */
  id: string;
  label: string;
  kind: MethodKind;
  /** Federations only: the wire encoding of logits. */
  encoding?: LogitEncoding;
}

/** The rows of a setting, in table order: the paper's baselines for it, then FedMKT per encoding. */
export function methodsFor(setting: Setting, encodings: readonly LogitEncoding[] = LOGIT_ENCODINGS): MethodSpec[] {
  const out: MethodSpec[] = [
    { id: 'slm-zs', label: 'SLM-ZS', kind: 'slm-zs' },
    { id: 'llm-zs', label: 'LLM-ZS', kind: 'llm-zs' },
    { id: 'standalone', label: 'Standalone', kind: 'standalone' },
  ];
  if (setting === 'homogeneous') out.push({ id: 'fedavg', label: 'FedAvg', kind: 'fedavg' });
  if (setting === 'one-to-one') out.push({ id: 'llm2slm', label: 'LLM2SLM', kind: 'llm2slm', encoding: 'f32' });
  out.push({ id: 'centralized-llm', label: 'Centralized-LLM', kind: 'centralized' });
  for (const encoding of encodings)
    out.push({ id: `fedmkt-${encoding}`, label: encoding === 'f32' ? 'FedMKT' : `FedMKT (${encoding} logits)`, kind: 'fedmkt', encoding });
  return out;
}

export interface MethodRun {
  method: string;
  label: string;
  seed: number;
  llm: Score | null;
  slms: Record<string, Score> | null;
  /** Federations: measured communication against the paper's formula. */
  communication?: Communication;
  /** FedAvg: measured adapter bytes per round and client. */
  bytesPerRound?: { upPerClient: number; downPerClient: number };
  /** Federations: per round (0 = zero-shot), each party's accuracy as the actors measured it. */
  curve?: { round: number; actor: string; accuracy: number | null }[];
  failures?: Record<string, string>;
  /** Federations: where the run's events, metrics and scenario are. */
  runDir?: string;
  wallSeconds: number;
}
