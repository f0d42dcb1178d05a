/**
 * Wires the pure client machine to a transport, a clock and a {@link ClientLearner}.
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import type { ClientLearner } from '../core/learning/client-learner.js';
import type { Envelope } from '../core/protocol/messages.js';
import { clientInbox } from '../core/protocol/subjects.js';
import type { ClientConfig } from '../core/scenario/schema.js';
import { clientMachine, type ClientEvent } from '../machines/client.js';
import { ActorShell, type ActorDeps } from './actor-shell.js';
import { clientMachineInput } from './machine-inputs.js';

export interface ClientActorDeps extends ActorDeps {
  config: ClientConfig;
  learner: ClientLearner;
}

export function createClientActor(deps: ClientActorDeps): Actor<typeof clientMachine> {
  const { scenario, config, learner, clock, recorder } = deps;
  const id = config.id;
  const shell = new ActorShell(id, 'client', config.profile, deps);
  const { endpoint, meter, work } = shell;
  const nPrivate = learner.data.privateSet.length;
  const nPublic = learner.data.publicSet.length;

  const machine = clientMachine.provide({
    actions: {
      acknowledgeFinish: (_, params) => void endpoint.send(params.round, { type: 'finish-ack' }),
    },
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
        await shell.checkpoint(input.round);
      }),
    },
  });

  const actor = createActor(machine, { clock, ...shell.restoredSnapshot, input: clientMachineInput(scenario, id, deps.resume?.afterRound) });
  shell.attach(actor, {
    inbox: clientInbox(deps.run),
    toEvent: toClientEvent,
    records: ['accepted', 'ignored', 'deadline'],
    adapter: { get: () => learner.getAdapter(), set: (weights) => learner.setAdapter(weights) },
  });
  return actor;
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
