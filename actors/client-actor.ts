/**
 * Wires the pure client machine to a transport, a clock and a {@link ClientLearner}.
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import { actorClock } from '../core/clock/clock.js';
import type { ClientLearner } from '../core/learning/client-learner.js';
import type { Envelope } from '../core/protocol/messages.js';
import { clientInbox, populationClientInbox } from '../core/protocol/subjects.js';
import type { ClientConfig } from '../core/scenario/schema.js';
import { clientMachine, type ClientEvent, type ClientWork } from '../machines/client.js';
import { ActorShell, type ActorDeps } from './actor-shell.js';
import { WorkBinding } from './bound-work.js';
import { clientSteps } from './client-steps.js';
import { clientMachineInput } from './machine-inputs.js';

export interface ClientActorDeps extends ActorDeps {
  config: ClientConfig;
  learner: ClientLearner;
  /** The machine to run (default: the client machine); a variant for testing the checkers with planted bugs. */
  machine?: typeof clientMachine;
  /** A population's client: the round its actor lives for, whether its accuracy is measured after it, and its template. */
  population?: { round: number; evaluate: boolean; template: number };
}

/** The machine's work plus its receipt of the finish (an action, sent while the client goes on). */
interface ClientActorWork extends ClientWork {
  acknowledgeFinish(round: number): void;
}

const binding = new WorkBinding<ClientActorWork>('client');

function withWork(machine: typeof clientMachine): typeof clientMachine {
  return binding.machine(machine, (m) =>
    m.provide({
      actions: { acknowledgeFinish: ({ system }, params) => binding.of(system).acknowledgeFinish(params.round) },
      actors: {
        trainPrivate: fromPromise(({ input, system }) => binding.of(system).trainPrivate(input)),
        computePublicLogits: fromPromise(({ input, system }) => binding.of(system).computePublicLogits(input)),
        uploadLogits: fromPromise(({ input, system }) => binding.of(system).uploadLogits(input)),
        alignLLMTokens: fromPromise(({ input, system }) => binding.of(system).alignLLMTokens(input)),
        distillFromLLM: fromPromise(({ input, system }) => binding.of(system).distillFromLLM(input)),
        uploadAdapter: fromPromise(({ input, system }) => binding.of(system).uploadAdapter(input)),
        applyAdapterAverage: fromPromise(({ input, system }) => binding.of(system).applyAdapterAverage(input)),
        evaluate: fromPromise(({ input, system }) => binding.of(system).evaluate(input)),
      },
    }),
  );
}

export function createClientActor(deps: ClientActorDeps): Actor<typeof clientMachine> {
  const { scenario, config, learner, clock, recorder } = deps;
  const id = config.id;
  const shell = new ActorShell(id, 'client', config.profile, deps.population ? { ...deps, life: `@${deps.population.round}` } : deps);
  const { endpoint, meter, work: charged } = shell;
  const nPublic = learner.data.publicSet.length;

  const work: ClientActorWork = {
    ...clientSteps(shell, config, learner, deps),
    uploadAdapter: async ({ round }) => {
      await endpoint.send(round, { type: 'adapter', tensors: learner.getAdapter(), weight: nPublic });
    },
    applyAdapterAverage: async ({ tensors }) => {
      learner.setAdapter(tensors);
    },
    evaluate: async ({ round }) => {
      if (deps.population?.evaluate === false) return;
      if (deps.population) meter.note('template', deps.population.template);
      const evaluation = await charged.run('evaluate', round, 'measure', 0, () => learner.evaluate());
      meter.close(round, evaluation, recorder);
      await shell.checkpoint(round);
    },
  };

  const actor = createActor(withWork(deps.machine ?? clientMachine), {
    clock: actorClock(clock, id),
    ...shell.restoredSnapshot,
    input: clientMachineInput(scenario, id, deps.resume?.afterRound, deps.population?.round),
  });
  binding.bind(actor, work);
  shell.attach(actor, {
    inbox: deps.population ? populationClientInbox(deps.run, id, deps.population.round) : clientInbox(deps.run),
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
