/**
 * Seeded schedules in worker threads, one schedule at a time per thread: each thread builds the
 * same target from the scenario file and runs the indices it is given.
 */
import type { Worker } from 'node:worker_threads';
import { projectWorker } from '../core/ts-worker.js';
import type { PoolOutcome, SchedulePool } from './explore.js';
import type { ExplorationSpec, ScheduleTask } from './schedule-worker.js';
import type { SeededStrategy } from './strategies.js';

type Reply = { ready: true } | { index: number; outcome: PoolOutcome } | { done: true } | { error: string };

export function threadPool(size: number, workerSpec: ExplorationSpec): SchedulePool {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './thread-worker.ts' : './thread-worker.js', import.meta.url);
  const workers: { worker: Worker; ready: Promise<void> }[] = Array.from({ length: size }, (_, i) => {
    const worker = projectWorker(entry, { workerData: workerSpec, name: `fedmkt-explore-${i}` });
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return { worker, ready };
  });
  const runOn = (worker: Worker, task: ScheduleTask, each: (index: number, outcome: PoolOutcome) => void) =>
    new Promise<void>((resolve, reject) => {
      const onMessage = (reply: Reply) => {
        if ('index' in reply) each(reply.index, reply.outcome);
        else if ('done' in reply) finish(resolve);
        else if ('error' in reply) finish(() => reject(new Error(`explore worker: ${reply.error}`)));
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
      // Interleaved, so every thread gets schedules of every size.
      await Promise.all(
        workers.map((w, i) => runOn(w.worker, { indices: indices.filter((_, j) => j % size === i), settings, strategy: strategy as SeededStrategy }, each)),
      );
    },
    async close() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
