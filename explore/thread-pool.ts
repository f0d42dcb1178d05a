/**
 * Seeded schedules in worker threads, one schedule at a time per thread: each thread builds the
 * same target from the scenario file and runs the indices it is given.
 */
import type { Worker } from 'node:worker_threads';
import { projectWorker } from '../core/ts-worker.js';
import type { PoolOutcome, SchedulePool } from './explore.js';
import type { ExplorationSpec, ScheduleTask } from './schedule-worker.js';
import type { SeededStrategy } from './strategies.js';

/** Young-generation size of an exploring thread (V8's default is 16 MB on 64-bit). */
const YOUNG_GENERATION_MB = 96;

/** Schedules a thread is handed at a time. */
const TASK_SIZE = 4;

type Reply = { ready: true } | { done: true; outcomes: { index: number; outcome: PoolOutcome }[] } | { error: string };

export function threadPool(size: number, workerSpec: ExplorationSpec): SchedulePool {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './thread-worker.ts' : './thread-worker.js', import.meta.url);
  const workers: { worker: Worker; ready: Promise<void> }[] = Array.from({ length: size }, (_, i) => {
    // A larger young generation: a schedule allocates a few MB of short-lived snapshots and
    // messages, and with V8's default the scavenger runs many times per schedule.
    const worker = projectWorker(entry, {
      workerData: workerSpec,
      name: `fedmkt-explore-${i}`,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return { worker, ready };
  });
  const runOn = (worker: Worker, task: ScheduleTask, each: (index: number, outcome: PoolOutcome) => void) =>
    new Promise<void>((resolve, reject) => {
      const onMessage = (reply: Reply) => {
        if ('done' in reply) {
          for (const o of reply.outcomes) each(o.index, o.outcome);
          finish(resolve);
        } else if ('error' in reply) finish(() => reject(new Error(`explore worker: ${reply.error}`)));
      };
      const onError = (error: Error) => finish(() => reject(error));
      const finish = (then: () => void) => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        then();
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage(task);
    });
  return {
    async run(indices, settings, strategy, each) {
      await Promise.all(workers.map((w) => w.ready));
      // Small tasks taken by whichever thread is free: no thread waits on a slower one's share.
      const tasks: number[][] = [];
      for (let i = 0; i < indices.length; i += TASK_SIZE) tasks.push(indices.slice(i, i + TASK_SIZE));
      await Promise.all(
        workers.map(async (w) => {
          for (let task = tasks.shift(); task; task = tasks.shift())
            await runOn(w.worker, { indices: task, settings, strategy: strategy as SeededStrategy }, each);
        }),
      );
    },
    async close() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
