/**
 * Communication of a FedMKT run, measured against the paper's estimate: per round and
 * direction about N·L·K logit values plus N·L·K ids (N public samples, L tokens per sample, K the
 * top-K), plus the N·L token ids and N losses. Measured sizes are the encoded messages
 * (codec.ts, with the scenario's logit encoding) as the run's `send` events recorded them.
 */
import type { FederationData } from '../../actors/federation-data.js';
import type { RunRecorder } from '../../actors/run-recorder.js';
import { resolveModelSpec } from '../../core/models/config.js';
import { encodeSample } from '../../core/models/sample-encoding.js';
import type { ClientConfig, Scenario, ServerConfig } from '../../core/scenario/schema.js';
import type { Tokenizer } from '../../core/tokenizers/tokenizer.js';

/** The paper's formula for one logits message of one party. */
interface LogitsFormula {
  /** N: public samples. */
  n: number;
  /** L: mean tokens per public sample in this party's tokenisation (after truncation to its context). */
  meanLength: number;
  /** K: top-K entries per position. */
  k: number;
  /** N·L·K: logit values (and as many ids) per message. */
  nlk: number;
  /** N·L·K float32 values + N·L·K int32 ids (what the paper's 58 MB counts as values, doubled for ids). */
  f32Bytes: number;
}

function logitsFormula(data: FederationData, party: ServerConfig | ClientConfig, tokenizer: Tokenizer, topK: number): LogitsFormula {
  const maxSeqLen = resolveModelSpec(party.model).maxSeqLen;
  let positions = 0;
  for (const s of data.publicSet) positions += encodeSample(tokenizer, s, maxSeqLen).ids.length;
  const n = data.publicSet.length;
  const nlk = positions * topK;
  return { n, meanLength: n ? positions / n : 0, k: topK, nlk, f32Bytes: nlk * 8 };
}

export interface Communication {
  /** Rounds in which logits travelled. */
  rounds: number;
  /** Mean bytes a client sent per round (every message: logits, adapters). */
  upPerClient: number;
  /** Mean bytes a client received per round (every message: round start, LLM logits, averages, finish). */
  downPerClient: number;
  /** Mean size of one SLM logits upload, and the paper's estimate for it (mean over clients). */
  slmLogitsBytes: number;
  slmFormula: LogitsFormula;
  /** Mean size of one LLM logits broadcast, and the paper's estimate for it. */
  llmLogitsBytes: number;
  llmFormula: LogitsFormula;
  /** LLM logits broadcasts in the whole run (LLM2SLM's frozen logits are re-sent each round by the machine). */
  llmLogitsMessages: number;
}

export function measureCommunication(
  scenario: Scenario,
  data: FederationData,
  recorder: RunRecorder,
  tokenizers: ReadonlyMap<string, Tokenizer>,
): Communication {
  const tok = (name: string): Tokenizer => {
    const t = tokenizers.get(name);
    if (!t) throw new Error(`communication: tokenizer ${name} not loaded`);
    return t;
  };
  const sends = recorder.events.filter((e) => e.kind === 'send' && e.round >= 1);
  const sizes = (type: string) => sends.filter((e) => e.type === type).map((e) => Number(e.bytes));
  const slm = sizes('slm-logits');
  const llm = sizes('llm-logits');
  const clientIds = new Set(scenario.clients.map((c) => c.id));
  const perRound = recorder.metrics.filter((m) => m.round >= 1 && clientIds.has(m.actor));
  const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const slmFormulas = scenario.clients.map((c) => logitsFormula(data, c, tok(c.tokenizer), scenario.protocol.topK));
  const avg = (key: keyof LogitsFormula) => mean(slmFormulas.map((f) => f[key]));
  return {
    rounds: new Set(sends.filter((e) => e.type === 'llm-logits' || e.type === 'slm-logits').map((e) => e.round)).size,
    upPerClient: mean(perRound.map((m) => m.bytesUp)),
    downPerClient: mean(perRound.map((m) => m.bytesDown)),
    slmLogitsBytes: mean(slm),
    slmFormula: { n: avg('n'), meanLength: avg('meanLength'), k: avg('k'), nlk: avg('nlk'), f32Bytes: avg('f32Bytes') },
    llmLogitsBytes: mean(llm),
    llmFormula: logitsFormula(data, scenario.server, tok(scenario.server.tokenizer), scenario.protocol.topK),
    llmLogitsMessages: llm.length,
  };
}
