/**
 * Wires the pure client machine to a transport, a clock and a {@link ClientLearner}.
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import type { Clock } from '../core/clock/clock.js';
import type { ClientLearner } from '../core/learning/client-learner.js';
import type { DecodeContext } from '../core/protocol/codec.js';
import type { Envelope } from '../core/protocol/messages.js';
import { clientInbox } from '../core/protocol/subjects.js';
import type { ActorHooks } from '../core/faults/controller.js';
import type { ClientConfig, Profile, Scenario } from '../core/scenario/schema.js';
import type { Transport } from '../core/transport/transport.js';
import { clientMachine, type ClientEvent } from '../machines/client.js';
import { RoundMeter, type RoundMeterState } from './round-meter.js';
import { ActorEndpoint, type EndpointState } from './endpoint.js';
import type { RunRecorder } from './run-recorder.js';
import { clientMachineInput } from './machine-inputs.js';
import { trackStates } from './state-tracker.js';
import { processComputeQueue, WorkRunner, type ComputeQueue, type WorkKind } from './work.js';

export interface ClientActorDeps {
  scenario: Scenario;
  config: ClientConfig;
  run: string;
  learner: ClientLearner;
  transport: Transport;
  clock: Clock;
  recorder: RunRecorder;
  decode: DecodeContext;
  /** Serialises model work; null when models run in worker threads. Default: the process queue. */
  computeQueue?: ComputeQueue | null;
  /** Fault layer (core/faults): lifecycle, restore after a crash, state observation, straggler profiles. */
  hooks?: ActorHooks;
}

/**
 * Work as a fault-aware actor runs it: on the profile of its round (stragglers), started only
 * while the incarnation is alive, its result delivered only to a live incarnation.
 */
export function faultAwareWork(
  actor: string,
  clock: Clock,
  profile: Profile,
  recorder: RunRecorder,
  queue: ComputeQueue | null | undefined,
  hooks: ActorHooks | undefined,
): { run<T>(state: string, round: number, kind: WorkKind, samples: number, work: () => Promise<T>): Promise<T> } {
  const resolvedQueue = queue === undefined ? processComputeQueue : queue;
  const runners = new Map<Profile, WorkRunner>();
  const runnerFor = (round: number): WorkRunner => {
    const p = hooks ? hooks.profile(round) : profile;
    let runner = runners.get(p);
    if (!runner) runners.set(p, (runner = new WorkRunner(actor, clock, p, recorder, resolvedQueue)));
    return runner;
  };
  return {
    run(state, round, kind, samples, work) {
      const runner = runnerFor(round);
      if (!hooks) return runner.run(state, round, kind, samples, work);
      const { life } = hooks;
      return life.release(runner.run(state, round, kind, samples, () => life.start(work)));
    },
  };
}

export function createClientActor(deps: ClientActorDeps): Actor<typeof clientMachine> {
  const { scenario, config, learner, clock, recorder } = deps;
  const id = config.id;
  const { hooks } = deps;
  const saved = hooks?.restore?.local as ClientLocal | undefined;
  const work = faultAwareWork(id, clock, config.profile, recorder, deps.computeQueue, hooks);
  const nPrivate = learner.data.privateSet.length;
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

  const meter = new RoundMeter(id, 'client', clock, endpoint, saved?.meter);

  const machine = clientMachine.provide({
    actors: {
      trainPrivate: fromPromise(async ({ input }) => {
        const stats = await work.run('trainPrivate', input.round, 'train', nPrivate * config.training.privateEpochs, () => learner.trainPrivate());
        meter.trainLoss = stats.loss;
        return { loss: stats.loss };
      }),
      computePublicLogits: fromPromise(async ({ input }) => {
        const logits = await work.run('computePublicLogits', input.round, 'infer', nPublic, () => learner.computePublicLogits());
        meter.publicCE = logits.ce;
        return { logits };
      }),
      uploadLogits: fromPromise(async ({ input }) => {
        await endpoint.send(input.round, { type: 'slm-logits', logits: input.logits });
      }),
      alignLLMTokens: fromPromise(async ({ input }) => {
        const { teacher, stats } = await work.run('alignLLMTokens', input.round, 'align', nPublic, () =>
          learner.alignLLMTokens(input.llmLogits, input.ownLogits),
        );
        recorder.event({ t: clock.now(), actor: id, round: input.round, kind: 'alignment', from: 'server', ...stats });
        meter.note('teacherShare', stats.positions ? stats.teacherPositions / stats.positions : 0);
        return { teacher };
      }),
      distillFromLLM: fromPromise(async ({ input }) => {
        const result = await work.run('distillFromLLM', input.round, 'train', nPublic * config.training.distillEpochs, () =>
          learner.distillFromLLM(input.llmTeacher, input.ownLogits),
        );
        const fromLLM = result.chosen.reduce((n, c) => n + (c === 0 ? 1 : 0), 0);
        recorder.event({ t: clock.now(), actor: id, round: input.round, kind: 'selected', llm: fromLLM, self: result.chosen.length - fromLLM });
        meter.note('llmTeacherShare', result.chosen.length ? fromLLM / result.chosen.length : 0);
        meter.distillLoss = result.stats.loss;
        return { loss: result.stats.loss };
      }),
      uploadAdapter: fromPromise(async ({ input }) => {
        await endpoint.send(input.round, { type: 'adapter', tensors: learner.getAdapter(), weight: nPublic });
      }),
      applyAdapterAverage: fromPromise(async ({ input }) => {
        learner.setAdapter(input.tensors);
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
    input: clientMachineInput(scenario, id),
  });
  trackStates(id, actor, clock, recorder, (state, round) => {
    currentRound = round;
    hooks?.onState(state, round);
  });
  for (const type of ['accepted', 'ignored', 'deadline'] as const) {
    actor.on(type, (record) => recorder.event({ t: clock.now(), actor: id, kind: record.type, ...omitType(record) }));
  }
  endpoint.listen(clientInbox(deps.run), (envelope) => actor.send(toClientEvent(envelope)));
  actor.subscribe({ complete: () => endpoint.close(), error: () => endpoint.close() });
  hooks?.life.onKilled(() => endpoint.close());
  hooks?.bind({
    actor,
    local: (): ClientLocal => ({
      endpoint: endpoint.state(),
      meter: meter.state(),
    }),
    getAdapter: () => learner.getAdapter(),
    setAdapter: (weights) => learner.setAdapter(weights),
  });
  return actor;
}

/** What a client persists besides its machine snapshot and adapter. */
interface ClientLocal extends Record<string, unknown> {
  endpoint: EndpointState;
  meter: RoundMeterState;
}

function toClientEvent(envelope: Envelope): ClientEvent {
  const base = { round: envelope.round, sender: envelope.sender, messageId: envelope.id };
  const body = envelope.body;
  switch (body.type) {
    case 'round-start':
      return { type: 'ROUND_START', ...base, uploadDeadline: body.uploadDeadline };
    case 'llm-logits':
      return { type: 'LLM_LOGITS', ...base, logits: body.logits };
    case 'adapter-average':
      return { type: 'ADAPTER_AVERAGE', ...base, tensors: body.tensors };
    case 'finish':
      return { type: 'FINISH', ...base, reason: body.reason };
    default:
      throw new Error(`client inbox got a ${body.type} message from ${envelope.sender}: not a server broadcast`);
  }
}

export function omitType<T extends { type: string }>(record: T): Omit<T, 'type'> {
  const { type: _type, ...rest } = record;
  return rest;
}

