/**
 * A client's steps of FedMKT as work charged to its profile: private training (step 1), its
 * public logits and their upload (step 2), aligning the LLM's tokens (step 7) and DualMinCE
 * distillation (step 8), and its receipt of the finish. The same in the synchronous round
 * (client-actor.ts) and in the buffered and asynchronous loops (async-client-actor.ts).
 */
import type { ClientLearner } from '../core/learning/client-learner.js';
import type { ClientConfig } from '../core/scenario/schema.js';
import type { ClientWork } from '../machines/client.js';
import type { ActorDeps, ActorShell } from './actor-shell.js';

type ClientSteps = Pick<ClientWork, 'trainPrivate' | 'computePublicLogits' | 'uploadLogits' | 'alignLLMTokens' | 'distillFromLLM'> & {
  acknowledgeFinish(round: number): void;
};

export function clientSteps(
  shell: ActorShell,
  config: ClientConfig,
  learner: ClientLearner,
  { clock, recorder }: Pick<ActorDeps, 'clock' | 'recorder'>,
): ClientSteps {
  const { endpoint, meter, work: charged } = shell;
  const id = config.id;
  const nPrivate = learner.data.privateSet.length;
  const nPublic = learner.data.publicSet.length;
  return {
    trainPrivate: async ({ round }) => {
      const stats = await charged.run('trainPrivate', round, 'train', nPrivate * config.training.privateEpochs, () => learner.trainPrivate());
      meter.trainLoss = stats.loss;
      return { loss: stats.loss };
    },
    computePublicLogits: async ({ round }) => {
      const logits = await charged.run('computePublicLogits', round, 'infer', nPublic, () => learner.computePublicLogits());
      meter.publicCE = logits.ce;
      return { logits };
    },
    uploadLogits: async ({ round, logits }) => {
      await endpoint.send(round, { type: 'slm-logits', logits });
    },
    alignLLMTokens: async ({ round, llmLogits, ownLogits }) => {
      const { teacher, stats } = await charged.run('alignLLMTokens', round, 'align', nPublic, () => learner.alignLLMTokens(llmLogits, ownLogits));
      recorder.event({ t: clock.now(), actor: id, round, kind: 'alignment', from: 'server', ...stats });
      meter.note('teacherShare', stats.positions ? stats.teacherPositions / stats.positions : 0);
      return { teacher };
    },
    distillFromLLM: async ({ round, llmTeacher, ownLogits }) => {
      const result = await charged.run('distillFromLLM', round, 'train', nPublic * config.training.distillEpochs, () =>
        learner.distillFromLLM(llmTeacher, ownLogits),
      );
      const fromLLM = result.chosen.reduce((n, c) => n + (c === 0 ? 1 : 0), 0);
      recorder.event({ t: clock.now(), actor: id, round, kind: 'selected', llm: fromLLM, self: result.chosen.length - fromLLM });
      meter.note('llmTeacherShare', result.chosen.length ? fromLLM / result.chosen.length : 0);
      meter.distillLoss = result.stats.loss;
      return { loss: result.stats.loss };
    },
    acknowledgeFinish: (round) => void endpoint.send(round, { type: 'finish-ack' }),
  };
}
