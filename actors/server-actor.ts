/**
 * Wires the pure server machine to a transport, a clock and a {@link ServerLearner}.
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import type { Clock } from '../core/clock/clock.js';
import type { ServerLearner } from '../core/learning/server-learner.js';
import type { DecodeContext } from '../core/protocol/codec.js';
import type { Envelope } from '../core/protocol/messages.js';
import { serverInbox } from '../core/protocol/subjects.js';
import type { Scenario } from '../core/scenario/schema.js';
import type { Transport } from '../core/transport/transport.js';
import { serverMachine, type ServerEvent } from '../machines/server.js';
import type { ActorHooks } from '../core/faults/controller.js';
import { faultAwareWork, omitType } from './client-actor.js';
import { RoundMeter, type RoundMeterState } from './round-meter.js';
import { ActorEndpoint, type EndpointState } from './endpoint.js';
import type { RunRecorder } from './run-recorder.js';
import { serverMachineInput } from './machine-inputs.js';
import { trackStates } from './state-tracker.js';
import type { ComputeQueue } from './work.js';

export interface ServerActorDeps {
  scenario: Scenario;
  run: string;
  learner: ServerLearner;
  transport: Transport;
  clock: Clock;
  recorder: RunRecorder;
  decode: DecodeContext;
  /** Serialises model work; null when models run in worker threads. Default: the process queue. */
  computeQueue?: ComputeQueue | null;
  /** Fault layer (core/faults): lifecycle, restore after a crash, state observation. */
  hooks?: ActorHooks;
}

export function createServerActor(deps: ServerActorDeps): Actor<typeof serverMachine> {
  const { scenario, learner, clock, recorder } = deps;
  const id = 'server';
  const profile = scenario.server.profile;
  const { hooks } = deps;
  const saved = hooks?.restore?.local as ServerLocal | undefined;
  const work = faultAwareWork(id, clock, profile, recorder, deps.computeQueue, hooks);
  const nPublic = learner.data.publicSet.length;
  let currentRound = 0;
  const endpoint = new ActorEndpoint({
    run: deps.run,
    actor: id,
    transport: deps.transport,
    clock,
    recorder,
    decode: deps.decode,
    round: () => currentRound,
    logitEncoding: scenario.protocol.logitEncoding,
    ...(saved ? { resume: saved.endpoint } : {}),
  });

  const meter = new RoundMeter(id, 'server', clock, endpoint, saved?.meter);

  const machine = serverMachine.provide({
    actors: {
      announceRound: fromPromise(async ({ input }) => {
        await endpoint.send(input.round, { type: 'round-start', uploadDeadline: clock.now() + input.uploadDeadline });
      }),
      alignSLMTokens: fromPromise(async ({ input }) => {
        const aligned = await work.run('alignSLMTokens', input.round, 'align', nPublic * input.uploads.length, () =>
          learner.alignSLMTokens(input.uploads.map((u) => u.logits)),
        );
        const teachers = input.uploads.map((u, i) => {
          const { teacher, stats } = aligned[i]!;
          recorder.event({ t: clock.now(), actor: id, round: input.round, kind: 'alignment', from: u.client, ...stats });
          meter.note(`teacherShare.${u.client}`, stats.positions ? stats.teacherPositions / stats.positions : 0);
          return { client: u.client, teacher };
        });
        meter.note('uploads', input.uploads.length);
        return { teachers };
      }),
      distillFromSLMs: fromPromise(async ({ input }) => {
        const result = await work.run('distillFromSLMs', input.round, 'train', nPublic * scenario.server.training.distillEpochs, () =>
          learner.distillFromSLMs(input.slmTeachers.map((t) => t.teacher)),
        );
        const picks: Record<string, number> = { self: 0 };
        for (const t of input.slmTeachers) picks[t.client] = 0;
        for (const c of result.chosen) {
          const key = c < 0 ? 'self' : input.slmTeachers[c]!.client;
          picks[key] = (picks[key] ?? 0) + 1;
        }
        recorder.event({ t: clock.now(), actor: id, round: input.round, kind: 'selected', ...picks });
        meter.distillLoss = result.stats.loss;
        return { loss: result.stats.loss };
      }),
      computeLLMLogits: fromPromise(async ({ input }) => {
        const logits = await work.run('computeLLMLogits', input.round, 'infer', nPublic, () => learner.computeLLMLogits());
        meter.publicCE = logits.ce;
        return { logits };
      }),
      broadcastLLMLogits: fromPromise(async ({ input }) => {
        await endpoint.send(input.round, { type: 'llm-logits', logits: input.logits });
      }),
      averageAdapters: fromPromise(async ({ input }) => {
        const tensors = learner.averageAdapters(input.adapters.map((a) => ({ weights: a.upload.tensors, weight: a.upload.weight })));
        await endpoint.send(input.round, { type: 'adapter-average', tensors, contributors: input.adapters.map((a) => a.client) });
      }),
      announceFinish: fromPromise(async ({ input }) => {
        await endpoint.send(input.round, { type: 'finish', reason: input.reason, ...(input.detail ? { detail: input.detail } : {}) });
      }),
      evaluate: fromPromise(async ({ input }) => {
        const evaluation = await work.run('evaluate', input.round, 'measure', 0, () => learner.evaluate());
        meter.close(input.round, evaluation, recorder);
      }),
    },
  });

  const actor = createActor(machine, {
    clock,
    ...(hooks?.restore ? { snapshot: hooks.restore.snapshot as never } : {}),
    input: serverMachineInput(scenario),
  });
  trackStates(id, actor, clock, recorder, (state, round) => {
    currentRound = round;
    hooks?.onState(state, round);
  });
  for (const type of ['accepted', 'ignored', 'deadline', 'quorum'] as const) {
    actor.on(type, (record) => recorder.event({ t: clock.now(), actor: id, kind: record.type, ...omitType(record) }));
  }
  endpoint.listen(serverInbox(deps.run), (envelope) => {
    const event = toServerEvent(envelope);
    if (event) actor.send(event);
  });
  actor.subscribe({ complete: () => endpoint.close(), error: () => endpoint.close() });
  hooks?.life.onKilled(() => endpoint.close());
  hooks?.bind({
    actor,
    local: (): ServerLocal => ({ endpoint: endpoint.state(), meter: meter.state() }),
    getAdapter: () => learner.model.getAdapter(),
    setAdapter: (weights) => learner.model.setAdapter(weights),
  });
  return actor;
}

/** What the server persists besides its machine snapshot (accepted uploads included) and adapter. */
interface ServerLocal extends Record<string, unknown> {
  endpoint: EndpointState;
  meter: RoundMeterState;
}

function toServerEvent(envelope: Envelope): ServerEvent | null {
  const base = { round: envelope.round, sender: envelope.sender, messageId: envelope.id };
  const body = envelope.body;
  if (body.type === 'slm-logits') return { type: 'SLM_LOGITS', ...base, logits: body.logits };
  if (body.type === 'adapter') return { type: 'ADAPTER', ...base, tensors: body.tensors, weight: body.weight };
  return null;
}
