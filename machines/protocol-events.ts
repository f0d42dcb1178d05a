/**
 * Events the actor layer sends into the machines (decoded, validated messages) and the
 * records the machines emit about their protocol decisions. Plain data: no tensors, no I/O.
 */
import type { ActorId, AdapterTensors, PublicLogits } from '../core/protocol/messages.js';

interface MessageEvent {
  round: number;
  sender: ActorId;
  messageId: string;
}

export interface RoundStartEvent extends MessageEvent {
  type: 'ROUND_START';
  uploadDeadline: number;
}
export interface SlmLogitsEvent extends MessageEvent {
  type: 'SLM_LOGITS';
  logits: PublicLogits;
}
export interface LlmLogitsEvent extends MessageEvent {
  type: 'LLM_LOGITS';
  logits: PublicLogits;
}
export interface AdapterEvent extends MessageEvent {
  type: 'ADAPTER';
  tensors: AdapterTensors;
  weight: number;
}
export interface AdapterAverageEvent extends MessageEvent {
  type: 'ADAPTER_AVERAGE';
  tensors: AdapterTensors;
}
export interface FinishEvent extends MessageEvent {
  type: 'FINISH';
  reason: 'completed' | 'aborted';
}
export interface FinishAckEvent extends MessageEvent {
  type: 'FINISH_ACK';
}

/** Why a message changed nothing. */
export type IgnoreReason = 'late' | 'future' | 'duplicate' | 'unknown-sender' | 'unexpected';

/** Emitted by machines for the event log and the invariant checker. */
export type ProtocolRecord =
  | { type: 'accepted'; round: number; messageId: string; sender: ActorId; message: string }
  | { type: 'ignored'; round: number; messageId: string; sender: ActorId; message: string; reason: IgnoreReason; atRound: number }
  | { type: 'quorum'; round: number; accepted: number; needed: number; outcome: 'proceed' | 'skip-round' | 'abort' }
  | { type: 'deadline'; round: number; state: string; action: string; missing?: ActorId[] }
  | { type: 'selected'; round: number; teachers: string[] };

/** The message name used in records, from an event type. */
export function messageName(type: string): string {
  return type.toLowerCase().replace(/_/g, '-');
}
