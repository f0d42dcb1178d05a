/** A worker thread of an exploration: runs the seeded schedules the main thread sends it. */
import { parentPort, workerData } from 'node:worker_threads';
import type { PoolOutcome } from './explore.js';
import { runTask, specTarget, type ExplorationSpec, type ScheduleTask } from './schedule-worker.js';

const port = parentPort;
if (!port) throw new Error('explore/thread-worker.ts runs as a worker thread');
const target = await specTarget(workerData as ExplorationSpec);
port.on('message', (task: ScheduleTask) => {
  // One message per task, with every outcome: fewer messages for the main thread to take.
  const outcomes: { index: number; outcome: PoolOutcome }[] = [];
  runTask(target, task, (index, outcome) => outcomes.push({ index, outcome }))
    .then(() => port.postMessage({ done: true, outcomes }))
    .catch((error: unknown) => port.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
});
port.postMessage({ ready: true });
