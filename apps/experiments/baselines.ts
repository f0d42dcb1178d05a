/**
 * The paper's baselines, on the same data and the same base models as the federation they are
 * compared with (same scenario, seed and learning stack, so a party's base model is the one
 * runFederation starts it from). No federation machinery: learners and models only.
 *
 * - SLM-ZS / LLM-ZS: the base models, no training.
 * - Standalone: each client fine-tunes on its own private shard only, with FedMKT's step-1
 *   budget (`rounds` x `privateEpochs`, its learning rate and batch size), nothing else.
 * - FedAvg (homogeneous): each round every client trains on its shard as in step 1, then the
 *   LoRA adapters are averaged (weighted by shard size) and every client takes the average.
 * - Centralized-LLM: the LLM fine-tuned on every private shard plus the public set, with the
 *   FedMKT LLM's budget (`rounds` x the server's `distillEpochs`, its learning rate and batch).
 * - LLM2SLM and FedMKT itself are federations (experiment.ts): `protocol.llmFrozen`.
 */
import type { FederationData } from '../../actors/federation-data.js';
import type { LearningStack } from '../../actors/federation.js';
import { averageAdapters } from '../../core/learning/fedavg.js';
import { resolveModelSpec } from '../../core/models/config.js';
import type { LanguageModel, TextSample } from '../../core/models/model.js';
import { encodeMessage } from '../../core/protocol/codec.js';
import { PROTOCOL_VERSION } from '../../core/protocol/messages.js';
import type { ClientConfig, Scenario, ServerConfig } from '../../core/scenario/schema.js';
import type { Tokenizer } from '../../core/tokenizers/tokenizer.js';
import { evaluateModel, type Score } from './evaluate.js';

export interface BaselineContext {
  scenario: Scenario;
  data: FederationData;
  learning: LearningStack;
}

/** What one method yields: the LLM's score and each client's, where the method has them. */
export interface MethodScores {
  llm: Score | null;
  slms: Record<string, Score> | null;
  /** Measured wire bytes per round, per client, each way (FedAvg: adapter uploads and averages). */
  bytesPerRound?: { upPerClient: number; downPerClient: number };
}

const tokenizerCache = new WeakMap<LearningStack, Map<string, Promise<Tokenizer>>>();

function tokenizerOf(learning: LearningStack, name: string): Promise<Tokenizer> {
  let byName = tokenizerCache.get(learning);
  if (!byName) tokenizerCache.set(learning, (byName = new Map()));
  let t = byName.get(name);
  if (!t) byName.set(name, (t = learning.tokenizer(name)));
  return t;
}

/** The base model runFederation gives `party` (server, or client `index`): same seeds. */
async function partyBaseModel(ctx: BaselineContext, party: 'server' | number): Promise<LanguageModel> {
  const { scenario, data, learning } = ctx;
  const config = party === 'server' ? scenario.server : scenario.clients[party];
  if (!config) throw new Error(`no client ${party} in scenario ${scenario.name}`);
  const seed = party === 'server' ? scenario.seed : scenario.seed + 1 + party;
  return learning.createModel(config, await tokenizerOf(learning, config.tokenizer), data, seed, scenario.seed);
}

/** Score `model` on the run's evaluation items (see evaluate.ts). */
export function scoreParty(model: LanguageModel, party: ServerConfig | ClientConfig, ctx: BaselineContext): Promise<Score> {
  return evaluateModel(model, ctx.data, {
    maxNewTokens: ctx.scenario.task.maxNewTokens,
    maxSeqLen: resolveModelSpec(party.model).maxSeqLen,
  });
}

async function withModel<T>(ctx: BaselineContext, party: 'server' | number, use: (model: LanguageModel) => Promise<T>): Promise<T> {
  const model = await partyBaseModel(ctx, party);
  try {
    return await use(model);
  } finally {
    model.dispose();
  }
}

export async function slmZeroShot(ctx: BaselineContext): Promise<MethodScores> {
  const slms: Record<string, Score> = {};
  for (const [i, c] of ctx.scenario.clients.entries()) slms[c.id] = await withModel(ctx, i, (m) => scoreParty(m, c, ctx));
  return { llm: null, slms };
}

export async function llmZeroShot(ctx: BaselineContext): Promise<MethodScores> {
  return { llm: await withModel(ctx, 'server', (m) => scoreParty(m, ctx.scenario.server, ctx)), slms: null };
}

export async function standalone(ctx: BaselineContext): Promise<MethodScores> {
  const { scenario, data } = ctx;
  const slms: Record<string, Score> = {};
  for (const [i, c] of scenario.clients.entries()) {
    slms[c.id] = await withModel(ctx, i, async (model) => {
      const { privateEpochs, learningRate, batchSize } = c.training;
      const shard = data.privateSets[i] ?? [];
      if (privateEpochs > 0 && shard.length > 0)
        for (let r = 0; r < scenario.rounds; r++) await model.trainEpochs(shard, { epochs: privateEpochs, learningRate, batchSize });
      return scoreParty(model, c, ctx);
    });
  }
  return { llm: null, slms };
}

export async function centralizedLLM(ctx: BaselineContext): Promise<MethodScores> {
  const { scenario, data } = ctx;
  const all: TextSample[] = [...data.privateSets.flat(), ...data.publicSet];
  const llm = await withModel(ctx, 'server', async (model) => {
    const { distillEpochs, learningRate, batchSize } = scenario.server.training;
    if (distillEpochs > 0) for (let r = 0; r < scenario.rounds; r++) await model.trainEpochs(all, { epochs: distillEpochs, learningRate, batchSize });
    return scoreParty(model, scenario.server, ctx);
  });
  return { llm, slms: null };
}

export async function fedAvg(ctx: BaselineContext): Promise<MethodScores> {
  const { scenario, data } = ctx;
  const models: LanguageModel[] = [];
  try {
    for (let i = 0; i < scenario.clients.length; i++) models.push(await partyBaseModel(ctx, i));
    let up = 0;
    let down = 0;
    for (let r = 1; r <= scenario.rounds; r++) {
      const adapters = [];
      for (const [i, c] of scenario.clients.entries()) {
        const shard = data.privateSets[i] ?? [];
        const { privateEpochs, learningRate, batchSize } = c.training;
        const model = models[i]!;
        if (privateEpochs > 0 && shard.length > 0) await model.trainEpochs(shard, { epochs: privateEpochs, learningRate, batchSize });
        const tensors = model.getAdapter();
        up += wireBytes(scenario.name, r, c.id, { type: 'adapter', tensors, weight: shard.length });
        adapters.push({ weights: tensors, weight: Math.max(1, shard.length) });
      }
      const average = averageAdapters(adapters);
      down += wireBytes(scenario.name, r, 'server', { type: 'adapter-average', tensors: average, contributors: scenario.clients.map((c) => c.id) });
      for (const m of models) m.setAdapter(average);
    }
    const slms: Record<string, Score> = {};
    for (const [i, c] of scenario.clients.entries()) slms[c.id] = await scoreParty(models[i]!, c, ctx);
    const k = scenario.clients.length;
    return { llm: null, slms, bytesPerRound: { upPerClient: up / (k * scenario.rounds), downPerClient: down / scenario.rounds } };
  } finally {
    for (const m of models) m.dispose();
  }
}

/** Encoded size of one message, as the federation's codec would put it on the wire. */
function wireBytes(run: string, round: number, sender: string, body: Parameters<typeof encodeMessage>[0]['body']): number {
  return encodeMessage({ v: PROTOCOL_VERSION, run, round, sender, id: `${sender}:${round}`, body }).byteLength;
}
