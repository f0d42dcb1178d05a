/** A worker thread of an exploration: runs the seeded schedules the main thread sends it. */
import { parentPort, workerData } from 'node:worker_threads';
import { runTask, specTarget, type ExplorationSpec, type ScheduleTask } from './schedule-worker.js';

const port = parentPort;
if (!port) throw new Error('explore/thread-worker.ts runs as a worker thread');
const target = await specTarget(workerData as ExplorationSpec);
port.on('message', (task: ScheduleTask) => {
  runTask(target, task, (index, outcome) => port.postMessage({ index, outcome }))
    .then(() => port.postMessage({ done: true }))
    .catch((error: unknown) => port.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
});
port.postMessage({ ready: true });
