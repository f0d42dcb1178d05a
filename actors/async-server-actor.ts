/**
 * Wires the pure asynchronous server machine (machines/async-server.ts) to a transport, a clock
 * and a {@link ServerLearner}: the sync server's steps, with each upload's staleness turned into
 * its DualMinCE weight by the scenario's weighting (core/learning/staleness.ts).
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import { actorClock } from '../core/clock/clock.js';
import type { ServerLearner } from '../core/learning/server-learner.js';
import { stalenessWeight } from '../core/learning/staleness.js';
import type { Envelope } from '../core/protocol/messages.js';
import { serverInbox } from '../core/protocol/subjects.js';
import { bufferSizeOf, weightingOf } from '../core/scenario/async-protocol.js';
import type { Scenario } from '../core/scenario/schema.js';
import { asyncServerMachine, type AsyncServerEvent, type AsyncServerInput, type AsyncServerWork } from '../machines/async-server.js';
import { ActorShell, type ActorDeps } from './actor-shell.js';
import { WorkBinding } from './bound-work.js';
import { serverSteps } from './server-steps.js';

export interface AsyncServerActorDeps extends ActorDeps {
  learner: ServerLearner;
}

const binding = new WorkBinding<AsyncServerWork>('asyncServer');

function withWork(machine: typeof asyncServerMachine): typeof asyncServerMachine {
  return binding.machine(machine, (m) =>
    m.provide({
      actors: {
        alignSLMTokens: fromPromise(({ input, system }) => binding.of(system).alignSLMTokens(input)),
        distillFromSLMs: fromPromise(({ input, system }) => binding.of(system).distillFromSLMs(input)),
        computeLLMLogits: fromPromise(({ input, system }) => binding.of(system).computeLLMLogits(input)),
        broadcastLLMLogits: fromPromise(({ input, system }) => binding.of(system).broadcastLLMLogits(input)),
        announceFinish: fromPromise(({ input, system }) => binding.of(system).announceFinish(input)),
        evaluate: fromPromise(({ input, system }) => binding.of(system).evaluate(input)),
      },
    }),
  );
}

export function asyncServerMachineInput(scenario: Scenario): AsyncServerInput {
  const p = scenario.protocol;
  return {
    totalRounds: scenario.rounds,
    clients: scenario.clients.map((c) => c.id),
    policy: {
      bufferSize: bufferSizeOf(p, scenario.clients.length),
      maxStaleness: p.staleness.maxStaleness,
      uploadDeadlineMs: p.awaitSLMLogits.deadlineMs,
      timeBudgetMs: p.timeBudgetMs ?? null,
      finishRetryMs: p.finish.retryMs,
      finishAttempts: p.finish.attempts,
    },
  };
}

export function createAsyncServerActor(deps: AsyncServerActorDeps): Actor<typeof asyncServerMachine> {
  const { scenario, learner, clock, recorder } = deps;
  const id = 'server';
  const shell = new ActorShell(id, 'server', scenario.server.profile, deps);
  const { meter, work: charged } = shell;
  const weighting = weightingOf(scenario.protocol.staleness);
  const steps = serverSteps(shell, scenario, learner, deps, true);

  const work: AsyncServerWork = {
    ...steps,
    distillFromSLMs: async ({ round, slmTeachers, staleness }) => {
      const weights = staleness.map((s) => stalenessWeight(weighting, s));
      meter.note('staleness', staleness);
      meter.note('stalenessWeights', weights);
      // All fresh: exactly the synchronous step (no weights passed at all).
      return steps.distillFromSLMs(round, slmTeachers, weights.every((w) => w === 1) ? undefined : weights);
    },
    evaluate: async ({ round }) => {
      const evaluation = await charged.run('evaluate', round, 'measure', 0, () => learner.evaluate());
      meter.close(round, evaluation, recorder);
      await shell.checkpoint(round);
    },
  };

  const actor = createActor(withWork(asyncServerMachine), {
    clock: actorClock(clock, id),
    ...shell.restoredSnapshot,
    input: asyncServerMachineInput(scenario),
  });
  binding.bind(actor, work);
  shell.attach(actor, {
    inbox: serverInbox(deps.run),
    toEvent: toAsyncServerEvent,
    records: ['accepted', 'ignored', 'deadline', 'quorum', 'used'],
    adapter: { get: () => learner.model.getAdapter(), set: (weights) => learner.model.setAdapter(weights) },
  });
  return actor;
}

function toAsyncServerEvent(envelope: Envelope): AsyncServerEvent | null {
  const base = { round: envelope.round, sender: envelope.sender, messageId: envelope.id };
  const body = envelope.body;
  if (body.type === 'slm-logits') return { type: 'SLM_LOGITS', ...base, logits: body.logits };
  if (body.type === 'finish-ack') return { type: 'FINISH_ACK', ...base };
  return null;
}
