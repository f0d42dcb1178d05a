/**
 * Wires the pure asynchronous client machine (machines/async-client.ts) to a transport, a clock
 * and a {@link ClientLearner}: the sync client's steps, without round announcements.
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import { actorClock } from '../core/clock/clock.js';
import type { ClientLearner } from '../core/learning/client-learner.js';
import type { Envelope } from '../core/protocol/messages.js';
import { clientInbox } from '../core/protocol/subjects.js';
import type { ClientConfig, Scenario } from '../core/scenario/schema.js';
import { asyncClientMachine, type AsyncClientEvent, type AsyncClientInput, type AsyncClientWork } from '../machines/async-client.js';
import { ActorShell, type ActorDeps } from './actor-shell.js';
import { WorkBinding } from './bound-work.js';
import { clientSteps } from './client-steps.js';

export interface AsyncClientActorDeps extends ActorDeps {
  config: ClientConfig;
  learner: ClientLearner;
}

interface AsyncClientActorWork extends AsyncClientWork {
  acknowledgeFinish(round: number): void;
}

const binding = new WorkBinding<AsyncClientActorWork>('asyncClient');

function withWork(machine: typeof asyncClientMachine): typeof asyncClientMachine {
  return binding.machine(machine, (m) =>
    m.provide({
      actions: { acknowledgeFinish: ({ system }, params) => binding.of(system).acknowledgeFinish(params.round) },
      actors: {
        trainPrivate: fromPromise(({ input, system }) => binding.of(system).trainPrivate(input)),
        computePublicLogits: fromPromise(({ input, system }) => binding.of(system).computePublicLogits(input)),
        uploadLogits: fromPromise(({ input, system }) => binding.of(system).uploadLogits(input)),
        alignLLMTokens: fromPromise(({ input, system }) => binding.of(system).alignLLMTokens(input)),
        distillFromLLM: fromPromise(({ input, system }) => binding.of(system).distillFromLLM(input)),
        evaluate: fromPromise(({ input, system }) => binding.of(system).evaluate(input)),
      },
    }),
  );
}

export function asyncClientMachineInput(scenario: Scenario, id: string): AsyncClientInput {
  const p = scenario.protocol;
  return {
    id,
    totalRounds: scenario.rounds,
    policy: { llmLogitsDeadlineMs: p.awaitLLMLogits.deadlineMs, onMissingLLMLogits: p.awaitLLMLogits.onMissing, serverSilenceMs: p.serverSilenceMs },
  };
}

export function createAsyncClientActor(deps: AsyncClientActorDeps): Actor<typeof asyncClientMachine> {
  const { scenario, config, learner, clock, recorder } = deps;
  const id = config.id;
  const shell = new ActorShell(id, 'client', config.profile, deps);
  const { meter, work: charged } = shell;

  const work: AsyncClientActorWork = {
    ...clientSteps(shell, config, learner, deps),
    evaluate: async ({ round }) => {
      const evaluation = await charged.run('evaluate', round, 'measure', 0, () => learner.evaluate());
      meter.close(round, evaluation, recorder);
      await shell.checkpoint(round);
    },
  };

  const actor = createActor(withWork(asyncClientMachine), {
    clock: actorClock(clock, id),
    ...shell.restoredSnapshot,
    input: asyncClientMachineInput(scenario, id),
  });
  binding.bind(actor, work);
  shell.attach(actor, {
    inbox: clientInbox(deps.run),
    toEvent: toAsyncClientEvent,
    records: ['accepted', 'ignored', 'deadline'],
    adapter: { get: () => learner.getAdapter(), set: (weights) => learner.setAdapter(weights) },
  });
  return actor;
}

function toAsyncClientEvent(envelope: Envelope): AsyncClientEvent | null {
  const base = { round: envelope.round, sender: envelope.sender, messageId: envelope.id };
  const body = envelope.body;
  if (body.type === 'llm-logits') return { type: 'LLM_LOGITS', ...base, logits: body.logits };
  if (body.type === 'finish') return { type: 'FINISH', ...base, reason: body.reason };
  return null;
}
