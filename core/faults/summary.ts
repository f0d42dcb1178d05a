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
  /** A population's measured client: the template it drew. */
  template?: unknown;
}

/** A population's clients of one template (`selection` events name each chosen client's template). */
interface TemplateSummary {
  template: number;
  /** Its clients announced over the rounds, and the uploads of theirs the server counted. */
  announced: number;
  uploads: number;
  /** Its measured clients, and their mean final accuracy. */
  measured: number;
  clientAccuracy: number | null;
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
  /** A population's figures per template (empty for listed clients, and for runs whose events do not name templates). */
  templates: TemplateSummary[];
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
  const templates = new TemplateTally();
  for (const e of events) {
    if (e.kind === 'accepted' && e.actor === 'server' && e.message === 'slm-logits') {
      uploads++;
      templates.upload(String(e.sender));
    } else if (e.kind === 'selection' && e.actor === 'server') templates.select(e.clients, e.templates);
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
    clientAccuracy: mean(clientAcc),
    templates: templates.summary(clients.map((c) => ({ template: last.get(c)?.template, accuracy: finalAccuracy[c] }))),
    dropouts,
    crashes,
    messageFaults,
  };
}

const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Announced clients and uploads per template, as the selections name them; then the measured clients' accuracy. */
class TemplateTally {
  private readonly templateOf = new Map<string, number>();
  private readonly figures = new Map<number, { announced: number; uploads: number }>();

  private of(template: number) {
    let f = this.figures.get(template);
    if (!f) this.figures.set(template, (f = { announced: 0, uploads: 0 }));
    return f;
  }

  select(clients: unknown, templates: unknown): void {
    if (!Array.isArray(clients) || !Array.isArray(templates) || clients.length !== templates.length) return;
    for (const [k, id] of clients.entries()) {
      const template = templates[k];
      if (typeof template !== 'number') continue;
      this.templateOf.set(String(id), template);
      this.of(template).announced++;
    }
  }

  upload(sender: string): void {
    const template = this.templateOf.get(sender);
    if (template !== undefined) this.of(template).uploads++;
  }

  summary(measured: readonly { template: unknown; accuracy: number | null | undefined }[]): TemplateSummary[] {
    const accuracy = new Map<number, number[]>();
    for (const m of measured) {
      if (typeof m.template !== 'number') continue;
      this.of(m.template);
      if (typeof m.accuracy !== 'number') continue;
      const list = accuracy.get(m.template) ?? [];
      list.push(m.accuracy);
      accuracy.set(m.template, list);
    }
    return [...this.figures]
      .sort(([a], [b]) => a - b)
      .map(([template, f]) => {
        const accs = accuracy.get(template) ?? [];
        return { template, ...f, measured: accs.length, clientAccuracy: mean(accs) };
      });
  }
}
