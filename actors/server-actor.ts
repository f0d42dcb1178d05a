/**
 * Wires the pure server machine to a transport, a clock and a {@link ServerLearner}.
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import { actorClock } from '../core/clock/clock.js';
import type { ServerLearner } from '../core/learning/server-learner.js';
import type { ActorId, Envelope } from '../core/protocol/messages.js';
import { serverInbox } from '../core/protocol/subjects.js';
import { serverMachine, type ServerEvent, type ServerWork } from '../machines/server.js';
import { ActorShell, type ActorDeps } from './actor-shell.js';
import { WorkBinding } from './bound-work.js';
import { serverSteps } from './server-steps.js';
import { serverMachineInput } from './machine-inputs.js';

export interface ServerActorDeps extends ActorDeps {
  learner: ServerLearner;
  /** The machine to run (default: the server machine); a variant for testing the checkers with planted bugs. */
  machine?: typeof serverMachine;
  /** A population: chooses each round's clients (and brings their actors up) before they are told. */
  population?: {
    /** The chosen clients, and the template each drew (recorded with the selection, for views that aggregate by template). */
    select(round: number): Promise<{ clients: ActorId[]; templates: number[] }>;
    /** Clients of the round that dropped out (their device went offline, or a fault). */
    dropouts(round: number): number;
  };
}

const binding = new WorkBinding<ServerWork>('server');

function withWork(machine: typeof serverMachine): typeof serverMachine {
  return binding.machine(machine, (m) =>
    m.provide({
      actors: {
        announceRound: fromPromise(({ input, system }) => binding.of(system).announceRound(input)),
        alignSLMTokens: fromPromise(({ input, system }) => binding.of(system).alignSLMTokens(input)),
        distillFromSLMs: fromPromise(({ input, system }) => binding.of(system).distillFromSLMs(input)),
        computeLLMLogits: fromPromise(({ input, system }) => binding.of(system).computeLLMLogits(input)),
        broadcastLLMLogits: fromPromise(({ input, system }) => binding.of(system).broadcastLLMLogits(input)),
        averageAdapters: fromPromise(({ input, system }) => binding.of(system).averageAdapters(input)),
        announceFinish: fromPromise(({ input, system }) => binding.of(system).announceFinish(input)),
        evaluate: fromPromise(({ input, system }) => binding.of(system).evaluate(input)),
      },
    }),
  );
}

export function createServerActor(deps: ServerActorDeps): Actor<typeof serverMachine> {
  const { scenario, learner, clock, recorder } = deps;
  const id = 'server';
  const profile = scenario.server.profile;
  const shell = new ActorShell(id, 'server', profile, deps);
  const { endpoint, meter, work: charged } = shell;
  // A population's round has too many clients for a figure each.
  const steps = serverSteps(shell, scenario, learner, deps, !deps.population);

  const work: ServerWork = {
    announceRound: async ({ round, uploadDeadline }) => {
      const due = clock.now() + uploadDeadline;
      if (!deps.population) {
        await endpoint.send(round, { type: 'round-start', uploadDeadline: due });
        return undefined;
      }
      const { clients: selected, templates } = await deps.population.select(round);
      meter.mark('announced');
      recorder.event({ t: clock.now(), actor: id, round, kind: 'selection', clients: selected, templates });
      meter.note('announced', selected.length);
      for (const to of selected) await endpoint.send(round, { type: 'round-start', uploadDeadline: due, to });
      return { selected };
    },
    ...steps,
    alignSLMTokens: async (input) => {
      // Collection is over as alignment starts.
      if (deps.population) meter.note('timeToQuorumS', meter.secondsSince('announced'));
      return steps.alignSLMTokens(input);
    },
    distillFromSLMs: ({ round, slmTeachers }) => steps.distillFromSLMs(round, slmTeachers),
    averageAdapters: async ({ round, adapters }) => {
      const tensors = learner.averageAdapters(adapters.map((a) => ({ weights: a.upload.tensors, weight: a.upload.weight })));
      await endpoint.send(round, { type: 'adapter-average', tensors, contributors: adapters.map((a) => a.client) });
    },
    evaluate: async ({ round }) => {
      if (deps.population && round > 0) meter.note('dropouts', deps.population.dropouts(round));
      const evaluation = await charged.run('evaluate', round, 'measure', 0, () => learner.evaluate());
      meter.close(round, evaluation, recorder);
      await shell.checkpoint(round);
    },
  };

  const actor = createActor(withWork(deps.machine ?? serverMachine), {
    clock: actorClock(clock, id),
    ...shell.restoredSnapshot,
    input: serverMachineInput(scenario, deps.resume?.afterRound),
  });
  binding.bind(actor, work);
  shell.attach(actor, {
    inbox: serverInbox(deps.run),
    toEvent: toServerEvent,
    records: ['accepted', 'ignored', 'deadline', 'quorum', 'stragglers'],
    adapter: { get: () => learner.model.getAdapter(), set: (weights) => learner.model.setAdapter(weights) },
  });
  actor.on('stragglers', (record) => meter.note('stragglers', record.clients.length));
  return actor;
}

function toServerEvent(envelope: Envelope): ServerEvent | null {
  const base = { round: envelope.round, sender: envelope.sender, messageId: envelope.id };
  const body = envelope.body;
  if (body.type === 'slm-logits') return { type: 'SLM_LOGITS', ...base, logits: body.logits };
  if (body.type === 'adapter') return { type: 'ADAPTER', ...base, tensors: body.tensors, weight: body.weight };
  if (body.type === 'finish-ack') return { type: 'FINISH_ACK', ...base };
  return null;
}
