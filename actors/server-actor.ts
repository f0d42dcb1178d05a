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
import { serverMachineInput } from './machine-inputs.js';

export interface ServerActorDeps extends ActorDeps {
  learner: ServerLearner;
  /** The machine to run (default: the server machine); a variant for testing the checkers with planted bugs. */
  machine?: typeof serverMachine;
  /** A population: chooses each round's clients (and brings their actors up) before they are told. */
  population?: {
    select(round: number): Promise<ActorId[]>;
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
  const nPublic = learner.data.publicSet.length;
  let announcedAt = 0;

  const work: ServerWork = {
    announceRound: async ({ round, uploadDeadline }) => {
      const due = clock.now() + uploadDeadline;
      if (!deps.population) {
        await endpoint.send(round, { type: 'round-start', uploadDeadline: due });
        return undefined;
      }
      const selected = await deps.population.select(round);
      announcedAt = clock.now();
      recorder.event({ t: announcedAt, actor: id, round, kind: 'selection', clients: selected });
      meter.note('announced', selected.length);
      for (const to of selected) await endpoint.send(round, { type: 'round-start', uploadDeadline: due, to });
      return { selected };
    },
    alignSLMTokens: async ({ round, uploads }) => {
      const aligned = await charged.run('alignSLMTokens', round, 'align', nPublic * uploads.length, () => learner.alignSLMTokens(uploads.map((u) => u.logits)));
      const teachers = uploads.map((u, i) => {
        const { teacher, stats } = aligned[i]!;
        recorder.event({ t: clock.now(), actor: id, round, kind: 'alignment', from: u.client, ...stats });
        // A population's round has too many clients for a figure each.
        if (!deps.population) meter.note(`teacherShare.${u.client}`, stats.positions ? stats.teacherPositions / stats.positions : 0);
        return { client: u.client, teacher };
      });
      meter.note('uploads', uploads.length);
      if (deps.population) meter.note('timeToQuorumS', (clock.now() - announcedAt) / 1000);
      return { teachers };
    },
    distillFromSLMs: async ({ round, slmTeachers }) => {
      const result = await charged.run('distillFromSLMs', round, 'train', nPublic * scenario.server.training.distillEpochs, () =>
        learner.distillFromSLMs(slmTeachers.map((t) => t.teacher)),
      );
      const picks: Record<string, number> = { self: 0 };
      for (const t of slmTeachers) picks[t.client] = 0;
      for (const c of result.chosen) {
        const key = c < 0 ? 'self' : slmTeachers[c]!.client;
        picks[key] = (picks[key] ?? 0) + 1;
      }
      recorder.event({ t: clock.now(), actor: id, round, kind: 'selected', ...picks });
      meter.distillLoss = result.stats.loss;
      return { loss: result.stats.loss };
    },
    computeLLMLogits: async ({ round }) => {
      const logits = await charged.run('computeLLMLogits', round, 'infer', nPublic, () => learner.computeLLMLogits());
      meter.publicCE = logits.ce;
      return { logits };
    },
    broadcastLLMLogits: async ({ round, logits }) => {
      await endpoint.send(round, { type: 'llm-logits', logits });
    },
    averageAdapters: async ({ round, adapters }) => {
      const tensors = learner.averageAdapters(adapters.map((a) => ({ weights: a.upload.tensors, weight: a.upload.weight })));
      await endpoint.send(round, { type: 'adapter-average', tensors, contributors: adapters.map((a) => a.client) });
    },
    announceFinish: async ({ round, reason, detail }) => {
      await endpoint.send(round, { type: 'finish', reason, ...(detail ? { detail } : {}) });
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
