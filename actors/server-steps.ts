/**
 * The server's steps of FedMKT as work charged to its profile: aligning the SLMs' tokens
 * (step 3), DualMinCE distillation from them (step 4), the LLM's public logits (step 5) and
 * their broadcast (step 6), and the finish. The same in the synchronous round (server-actor.ts)
 * and in the buffered and asynchronous loops (async-server-actor.ts).
 */
import type { AlignedTeacher } from '../core/alignment/aligned-teacher.js';
import type { ServerLearner } from '../core/learning/server-learner.js';
import type { ActorId } from '../core/protocol/messages.js';
import type { Scenario } from '../core/scenario/schema.js';
import type { ServerWork } from '../machines/server.js';
import type { ActorDeps, ActorShell } from './actor-shell.js';

type ServerSteps = Pick<ServerWork, 'alignSLMTokens' | 'computeLLMLogits' | 'broadcastLLMLogits' | 'announceFinish'> & {
  /** Step 4 from these teachers, each weighted (none: all weigh 1, as in the paper). */
  distillFromSLMs(round: number, slmTeachers: { client: ActorId; teacher: AlignedTeacher }[], weights?: readonly number[]): Promise<{ loss: number }>;
};

export function serverSteps(
  shell: ActorShell,
  scenario: Scenario,
  learner: ServerLearner,
  { clock, recorder }: Pick<ActorDeps, 'clock' | 'recorder'>,
  /** Each client's share of aligned positions in the metrics (not for a population's many clients). */
  teacherShares: boolean,
): ServerSteps {
  const { endpoint, meter, work: charged } = shell;
  const id = 'server';
  const nPublic = learner.data.publicSet.length;
  return {
    alignSLMTokens: async ({ round, uploads }) => {
      const aligned = await charged.run('alignSLMTokens', round, 'align', nPublic * uploads.length, () => learner.alignSLMTokens(uploads.map((u) => u.logits)));
      const teachers = uploads.map((u, i) => {
        const { teacher, stats } = aligned[i]!;
        recorder.event({ t: clock.now(), actor: id, round, kind: 'alignment', from: u.client, ...stats });
        if (teacherShares) meter.note(`teacherShare.${u.client}`, stats.positions ? stats.teacherPositions / stats.positions : 0);
        return { client: u.client, teacher };
      });
      meter.note('uploads', uploads.length);
      return { teachers };
    },
    distillFromSLMs: async (round, slmTeachers, weights) => {
      const result = await charged.run('distillFromSLMs', round, 'train', nPublic * scenario.server.training.distillEpochs, () =>
        learner.distillFromSLMs(
          slmTeachers.map((t) => t.teacher),
          weights,
        ),
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
    announceFinish: async ({ round, reason, detail }) => {
      await endpoint.send(round, { type: 'finish', reason, ...(detail ? { detail } : {}) });
    },
  };
}
