/**
 * What a fault run amounted to, from its event trace and metrics: the figures `fedmkt sweep`
 * tabulates.
 */
import type { TraceEvent } from '../records.js';

export interface MetricRow {
  round: number;
  actor: string;
  role: string;
  accuracy: number | null;
}

export interface RunSummary {
  /** Uploads the server counted, over uploads awaited per round (every client, or a population's perRound) x rounds. */
  participation: number;
  /** Rounds in which the server distilled and broadcast. */
  roundsCompleted: number;
  rounds: number;
  /** Mean virtual seconds from opening collection to proceeding, over rounds that proceeded. */
  timeToQuorumS: number | null;
  /** Accuracy of each model after its last evaluated round. */
  finalAccuracy: Record<string, number | null>;
  /** Mean final accuracy of the clients. */
  clientAccuracy: number | null;
  dropouts: number;
  crashes: number;
  /** Decisions of message rules and partitions (not messages lost to an actor being down). */
  messageFaults: number;
}

const MESSAGE_FAULTS = new Set(['drop', 'delay', 'duplicate', 'reorder', 'corrupt']);

/** `perRound`: uploads awaited per round (default: one per client); a population's `clients` are those measured. */
export function summariseRun(
  events: readonly TraceEvent[],
  metrics: readonly MetricRow[],
  clients: readonly string[],
  rounds: number,
  perRound = clients.length,
): RunSummary {
  let uploads = 0;
  let dropouts = 0;
  let crashes = 0;
  let messageFaults = 0;
  const completed = new Set<number>();
  const opened = new Map<number, number>();
  const quorumTimes: number[] = [];
  let serverState: { round: number; state: string } | null = null;
  for (const e of events) {
    if (e.kind === 'accepted' && e.actor === 'server' && e.message === 'slm-logits') uploads++;
    else if (e.kind === 'dropout') dropouts++;
    else if (e.kind === 'crash') crashes++;
    else if (MESSAGE_FAULTS.has(e.kind) && /^(messages|partition)\[/.test(String(e.cause))) messageFaults++;
    else if (e.kind === 'state' && e.actor === 'server') {
      const state = String(e.state);
      if (state === 'awaitSLMLogits' && !opened.has(e.round)) opened.set(e.round, e.t);
      if (serverState?.state === 'awaitSLMLogits' && serverState.round === e.round && (state === 'alignSLMTokens' || state === 'computeLLMLogits')) {
        const start = opened.get(e.round);
        if (start !== undefined) quorumTimes.push((e.t - start) / 1000);
      }
      if (state === 'broadcastLLMLogits') completed.add(e.round);
      serverState = { round: e.round, state };
    }
  }
  const last = new Map<string, MetricRow>();
  for (const m of metrics) if ((last.get(m.actor)?.round ?? -1) <= m.round) last.set(m.actor, m);
  const finalAccuracy: Record<string, number | null> = {};
  for (const actor of ['server', ...clients]) if (last.has(actor)) finalAccuracy[actor] = last.get(actor)!.accuracy;
  const clientAcc = clients.map((c) => finalAccuracy[c]).filter((a): a is number => typeof a === 'number');
  return {
    participation: perRound * rounds > 0 ? uploads / (perRound * rounds) : 0,
    roundsCompleted: completed.size,
    rounds,
    timeToQuorumS: quorumTimes.length ? quorumTimes.reduce((a, b) => a + b, 0) / quorumTimes.length : null,
    finalAccuracy,
    clientAccuracy: clientAcc.length ? clientAcc.reduce((a, b) => a + b, 0) / clientAcc.length : null,
    dropouts,
    crashes,
    messageFaults,
  };
}
