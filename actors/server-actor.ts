/**
 * Wires the pure server machine to a transport, a clock and a {@link ServerLearner}.
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import type { ServerLearner } from '../core/learning/server-learner.js';
import type { Envelope } from '../core/protocol/messages.js';
import { serverInbox } from '../core/protocol/subjects.js';
import { serverMachine, type ServerEvent } from '../machines/server.js';
import { ActorShell, type ActorDeps } from './actor-shell.js';
import { serverMachineInput } from './machine-inputs.js';

export interface ServerActorDeps extends ActorDeps {
  learner: ServerLearner;
}

export function createServerActor(deps: ServerActorDeps): Actor<typeof serverMachine> {
  const { scenario, learner, clock, recorder } = deps;
  const id = 'server';
  const profile = scenario.server.profile;
  const shell = new ActorShell(id, 'server', profile, deps);
  const { endpoint, meter, work } = shell;
  const nPublic = learner.data.publicSet.length;

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
        await shell.checkpoint(input.round);
      }),
    },
  });

  const actor = createActor(machine, { clock, ...shell.restoredSnapshot, input: serverMachineInput(scenario, deps.resume?.afterRound) });
  shell.attach(actor, {
    inbox: serverInbox(deps.run),
    toEvent: toServerEvent,
    records: ['accepted', 'ignored', 'deadline', 'quorum'],
    adapter: { get: () => learner.model.getAdapter(), set: (weights) => learner.model.setAdapter(weights) },
  });
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
