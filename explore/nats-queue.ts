/**
 * Distributed exploration: seeded schedules handed out through a JetStream work queue to
 * `fedmkt explore --join URL` processes on any machine, their outcomes sent back to the
 * coordinator and merged there. The protocol is in docs/nats.md ("Distributed exploration").
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  AckPolicy,
  type Consumer,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type NatsConnection, RequestError, connect, nanos, nuid } from '@nats-io/transport-node';
import type { FaultKind } from '../core/schedule/fault-space.js';
import type { PoolOutcome, SchedulePool } from './explore.js';
import type { ExploreTarget } from './runner.js';
import { runTask, specTarget, type ExplorationSpec, type ScheduleTask } from './schedule-worker.js';

/** One stream for every exploration on a server; each exploration publishes to its own subject in it. */
export const EXPLORE_STREAM = 'FEDMKT_EXPLORE';
/** The durable pull consumer every worker reads through (a work queue allows one consumer per subject). */
export const EXPLORE_CONSUMER = 'fedmkt-explore-workers';
/** Key-value bucket: exploration id -> its ExplorationSpec (JSON). */
const SPEC_BUCKET = 'FEDMKT_EXPLORE_SPECS';
const taskSubject = (id: string) => `fedmkt.explore.tasks.${id}`;
const resultSubject = (id: string) => `fedmkt.explore.${id}.results`;

const DEFAULT_ACK_WAIT_MS = 30_000;
const DEFAULT_TASK_SIZE = 4;
const DEFAULT_STALL_MS = 15_000;
/** How long a worker waits for the coordinator to take an outcome; then the task is handed out again. */
const REPLY_TIMEOUT_MS = 20_000;
/** Long polls of the work queue; a stop request waits for the current one at most. */
const PULL_EXPIRES_MS = 1_000;
const STREAM_MAX_AGE_MS = 24 * 3600_000;
const TARGET_CACHE = 4;

interface TaskMessage {
  id: string;
  task: ScheduleTask;
}

type ResultMessage = { worker: string; index: number; outcome: PoolOutcome } | { worker: string; error: string };

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const decode = <T>(data: Uint8Array): T => JSON.parse(new TextDecoder().decode(data)) as T;
const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Queue {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
}

/** Creates what `info` finds missing; tolerates another process creating it at the same time. */
async function ensure(what: string, info: () => Promise<unknown>, add: () => Promise<unknown>): Promise<void> {
  try {
    await info();
    return;
  } catch {
    // not there yet
  }
  try {
    await add();
  } catch (error) {
    await info().catch(() => {
      throw new Error(`explore: ${what} could not be created: ${describe(error)}`);
    });
  }
}

/**
 * Connects and makes sure the stream, the workers' consumer and the spec bucket exist. The
 * consumer's ack wait is set only by whoever creates it: adding it again with another one
 * would change it under the workers already reading.
 */
async function openQueue(url: string, role: string, ackWaitMs: number): Promise<Queue> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name: `fedmkt-explore-${role}`, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000 });
  } catch (error) {
    throw new Error(`explore: no NATS server answers at ${url} (${describe(error)})`);
  }
  try {
    if (!nc.info?.jetstream) throw new Error(`explore: the NATS server at ${url} has no JetStream, which holds the work queue: start nats-server with -js`);
    const jsm = await jetstreamManager(nc);
    await ensure(
      `JetStream stream ${EXPLORE_STREAM}`,
      () => jsm.streams.info(EXPLORE_STREAM),
      () =>
        jsm.streams.add({
          name: EXPLORE_STREAM,
          subjects: [taskSubject('*')],
          storage: StorageType.File,
          // A task leaves the stream once a worker acknowledged (or terminated) it.
          retention: RetentionPolicy.Workqueue,
          discard: DiscardPolicy.Old,
          max_age: nanos(STREAM_MAX_AGE_MS),
        }),
    );
    await ensure(
      `consumer ${EXPLORE_CONSUMER} of ${EXPLORE_STREAM}`,
      () => jsm.consumers.info(EXPLORE_STREAM, EXPLORE_CONSUMER),
      () => jsm.consumers.add(EXPLORE_STREAM, { durable_name: EXPLORE_CONSUMER, ack_policy: AckPolicy.Explicit, ack_wait: nanos(ackWaitMs) }),
    );
    const js = jetstream(nc);
    const kv = await new Kvm(js).create(SPEC_BUCKET, { history: 1 });
    return { nc, js, jsm, kv };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

export interface NatsPoolOptions {
  file: string;
  /** The scenario as the coordinator explores it (command-line overrides applied); default: the file's text. */
  scenarioText?: string;
  kinds: FaultKind[] | null;
  properties: string[];
  log: (line: string) => void;
  /** Schedules per task message (default 4): a batch of 128 becomes 32 tasks, shared by the workers. */
  taskSize?: number;
  /** Ack wait of the workers' consumer, if this call creates it (default 30 s). */
  ackWaitMs?: number;
  /** No outcome for this long: look at the queue, and hand out again what was lost (default 15 s). */
  stallMs?: number;
  /** Called for each outcome accepted, with the worker that sent it. */
  onOutcome?: (worker: string, index: number) => void;
}

interface Batch {
  pending: Set<number>;
  each: (index: number, outcome: PoolOutcome) => void;
  tasks: ScheduleTask[];
  lastProgress: number;
  done: () => void;
  fail: (error: Error) => void;
}

/** The coordinator's end: a SchedulePool whose schedules run on whichever workers are joined. */
export async function natsPool(url: string, options: NatsPoolOptions): Promise<SchedulePool> {
  const { log } = options;
  const spec: ExplorationSpec = {
    scenarioText: options.scenarioText ?? readFileSync(options.file, 'utf8'),
    file: options.file,
    kinds: options.kinds,
    properties: options.properties,
  };
  const q = await openQueue(url, 'coordinator', options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS);
  const id = nuid.next();
  try {
    await q.kv.put(id, encode(spec));
  } catch (error) {
    await q.nc.close();
    throw new Error(`explore: could not store the exploration's spec in bucket ${SPEC_BUCKET}: ${describe(error)}`);
  }
  const perWorker = new Map<string, number>();
  let duplicates = 0;
  let batch: Batch | undefined;
  let failure: Error | undefined;

  const accept = (reply: ResultMessage) => {
    if ('error' in reply) {
      failure ??= new Error(`explore worker ${reply.worker} failed: ${reply.error}`);
      batch?.fail(failure);
      return;
    }
    if (!batch?.pending.delete(reply.index)) {
      duplicates++;
      return;
    }
    if (!perWorker.has(reply.worker)) log(`worker ${reply.worker} sent its first outcome`);
    perWorker.set(reply.worker, (perWorker.get(reply.worker) ?? 0) + 1);
    batch.lastProgress = Date.now();
    options.onOutcome?.(reply.worker, reply.index);
    batch.each(reply.index, reply.outcome);
    if (batch.pending.size === 0) batch.done();
  };
  const results = q.nc.subscribe(resultSubject(id), {
    callback: (error, msg) => {
      if (error) return;
      try {
        accept(decode<ResultMessage>(msg.data));
      } catch (e) {
        failure ??= new Error(`explore: taking an outcome from ${msg.subject} failed: ${describe(e)}`);
        batch?.fail(failure);
      }
      // The reply is the worker's cue to acknowledge its task: only after the outcome is taken.
      msg.respond();
    },
  });
  await q.nc.flush();

  const publish = async (tasks: readonly ScheduleTask[]) => {
    for (const task of tasks) await q.js.publish(taskSubject(id), encode({ id, task } satisfies TaskMessage));
  };
  const watchdog = watchStalls(q, id, () => batch, publish, options.stallMs ?? DEFAULT_STALL_MS, log);
  const taskSize = options.taskSize ?? DEFAULT_TASK_SIZE;
  log(`exploration ${id}: schedules go to the workers of ${url} (fedmkt explore --join ${url}) in tasks of ${taskSize}`);

  return {
    async run(indices, settings, strategy, each) {
      if (failure) throw failure;
      if (strategy === 'exhaustive') throw new Error('explore: the exhaustive search runs in one process, not over NATS');
      if (indices.length === 0) return;
      const tasks: ScheduleTask[] = [];
      for (let i = 0; i < indices.length; i += taskSize) tasks.push({ indices: indices.slice(i, i + taskSize), settings, strategy });
      const finished = new Promise<void>((done, fail) => {
        batch = { pending: new Set(indices), each, tasks, lastProgress: Date.now(), done, fail };
      });
      try {
        await publish(tasks);
        await finished;
      } finally {
        batch = undefined;
      }
    },
    async close() {
      clearInterval(watchdog);
      results.unsubscribe();
      const counts = [...perWorker].map(([worker, n]) => `${worker} ${n}`).join(', ');
      log(
        `exploration ${id}: schedules per worker: ${counts || 'none'}${duplicates ? `; ${duplicates} outcomes came again (redelivered tasks) and were dropped` : ''}`,
      );
      // What no worker took yet is of no use to anyone now.
      await q.jsm.streams.purge(EXPLORE_STREAM, { filter: taskSubject(id) }).catch((e: unknown) => log(`could not purge the tasks of ${id}: ${describe(e)}`));
      await q.kv.purge(id).catch((e: unknown) => log(`could not remove the spec of ${id}: ${describe(e)}`));
      await q.nc.drain();
    },
  };
}

/**
 * Outcomes can be lost where nothing redelivers them: a worker that found the coordinator
 * unreachable (a reconnect) drops its task. So when a batch makes no progress for `stallMs`
 * and the stream holds none of this exploration's tasks, the missing schedules go out again;
 * while tasks are still queued or held, it only says so (no worker yet, or slow schedules).
 */
function watchStalls(
  q: Queue,
  id: string,
  current: () => Batch | undefined,
  publish: (tasks: ScheduleTask[]) => Promise<void>,
  stallMs: number,
  log: (line: string) => void,
) {
  let checking = false;
  const check = async (batch: Batch) => {
    const info = await q.jsm.streams.info(EXPLORE_STREAM, { subjects_filter: taskSubject(id) });
    const queued = info.state.subjects?.[taskSubject(id)] ?? 0;
    const idle = Math.round((Date.now() - batch.lastProgress) / 1000);
    batch.lastProgress = Date.now();
    if (queued > 0) {
      log(`no outcome for ${idle} s; ${queued} task(s) of this exploration are queued or running (are workers joined? fedmkt explore --join URL)`);
      return;
    }
    const missing = batch.tasks.map((t) => ({ ...t, indices: t.indices.filter((i) => batch.pending.has(i)) })).filter((t) => t.indices.length > 0);
    log(`no outcome for ${idle} s and no task left in the queue: handing out the ${batch.pending.size} missing schedule(s) again`);
    await publish(missing);
  };
  return setInterval(
    () => {
      const batch = current();
      if (!batch || checking || Date.now() - batch.lastProgress < stallMs) return;
      checking = true;
      check(batch)
        .catch((error: unknown) => log(`checking the work queue failed: ${describe(error)}`))
        .finally(() => (checking = false));
    },
    Math.min(1_000, stallMs),
  );
}

export interface JoinOptions {
  log: (line: string) => void;
  /** Stop: the current task's finished outcomes are sent and the rest goes back to the queue. */
  signal?: AbortSignal;
  /** Stop after this long without a task. */
  idleMs?: number;
  /** How this worker is named in the coordinator's counts (default host:pid). */
  name?: string;
}

/** A worker's end: takes tasks of any exploration on the server until stopped. */
export async function joinExploration(url: string, options: JoinOptions): Promise<void> {
  const { log, signal } = options;
  const q = await openQueue(url, 'worker', DEFAULT_ACK_WAIT_MS);
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const worker: Worker = { q, name, log, signal, targets: new Map(), ackWaitMs: DEFAULT_ACK_WAIT_MS, schedules: 0 };
  try {
    const consumer = await q.js.consumers.get(EXPLORE_STREAM, EXPLORE_CONSUMER);
    worker.ackWaitMs = ((await consumer.info()).config.ack_wait ?? nanos(DEFAULT_ACK_WAIT_MS)) / 1e6;
    log(`worker ${name} takes schedules from ${url}`);
    let idleSince = Date.now();
    while (!signal?.aborted && !(options.idleMs !== undefined && Date.now() - idleSince >= options.idleMs)) {
      const msg = await pull(consumer, q, log);
      if (!msg) continue;
      if (signal?.aborted) {
        msg.nak();
        break;
      }
      await work(worker, msg);
      idleSince = Date.now();
    }
    log(`worker ${name} stops after ${worker.schedules} schedules`);
  } finally {
    await q.nc.drain().catch(() => q.nc.close());
  }
}

interface Worker {
  q: Queue;
  name: string;
  log: (line: string) => void;
  signal: AbortSignal | undefined;
  /** Exploration id -> its target, built once; a few kept, the oldest dropped. */
  targets: Map<string, Promise<ExploreTarget>>;
  ackWaitMs: number;
  schedules: number;
}

async function pull(consumer: Consumer, q: Queue, log: (line: string) => void): Promise<JsMsg | null> {
  try {
    return await consumer.next({ expires: PULL_EXPIRES_MS });
  } catch (error) {
    if (q.nc.isClosed()) throw error;
    log(`pulling a task failed (will retry): ${describe(error)}`);
    await sleep(1_000);
    return null;
  }
}

/** The target of exploration `id`, or undefined when its spec is gone (the coordinator closed it). */
async function targetOf(worker: Worker, id: string): Promise<ExploreTarget | undefined> {
  let target = worker.targets.get(id);
  if (!target) {
    const entry = await worker.q.kv.get(id);
    if (entry?.operation !== 'PUT') return undefined;
    target = specTarget(decode<ExplorationSpec>(entry.value));
    worker.targets.set(id, target);
    for (const old of worker.targets.keys()) if (worker.targets.size > TARGET_CACHE) worker.targets.delete(old);
  }
  return target;
}

const isNoResponders = (error: unknown) => error instanceof RequestError && error.isNoResponders();

/**
 * Runs one task and acknowledges it once the coordinator took every outcome; a stop or a lost
 * reply hands it back (nak) for another worker, whose repeats the coordinator drops by index.
 */
async function work(worker: Worker, msg: JsMsg): Promise<void> {
  const { q, log } = worker;
  let message: TaskMessage;
  try {
    message = decode<TaskMessage>(msg.data);
  } catch (error) {
    log(`dropping an unreadable task: ${describe(error)}`);
    msg.term();
    return;
  }
  const { id, task } = message;
  const what = `schedules ${task.indices[0]}..${task.indices.at(-1)} of ${id}`;
  if (msg.info.deliveryCount > 1) log(`${what} delivered again (delivery ${msg.info.deliveryCount}): the worker that held them stopped or was too slow`);
  const send = (body: ResultMessage) => {
    const data = encode(body);
    const max = q.nc.info?.max_payload ?? Infinity;
    if (data.length > max)
      throw new Error(`the outcome of schedule ${'index' in body ? body.index : '?'} is ${data.length} bytes, over the server's max_payload of ${max}`);
    return q.nc.request(resultSubject(id), data, { timeout: REPLY_TIMEOUT_MS });
  };
  const heartbeat = setInterval(() => msg.working(), Math.max(100, worker.ackWaitMs / 3));
  try {
    const target = await targetOf(worker, id);
    if (!target) {
      log(`exploration ${id} is over (its spec is gone): dropping ${what}`);
      msg.term();
      return;
    }
    const replies: Promise<unknown>[] = [];
    let gone = false;
    for (const index of task.indices) {
      if (gone || worker.signal?.aborted) break;
      await runTask(target, { ...task, indices: [index] }, (i, outcome) => {
        replies.push(
          send({ worker: worker.name, index: i, outcome }).catch((error: unknown) => {
            gone ||= isNoResponders(error);
            throw error;
          }),
        );
      });
      worker.schedules++;
    }
    const failed = (await Promise.allSettled(replies)).find((r) => r.status === 'rejected');
    if (gone) {
      log(`the coordinator of ${id} is not listening: dropping ${what}`);
      msg.term();
    } else if (failed) {
      log(`the coordinator of ${id} did not take an outcome (${describe(failed.reason)}): ${what} go back to the queue`);
      msg.nak();
    } else if (worker.signal?.aborted && replies.length < task.indices.length) msg.nak();
    else msg.ack();
  } catch (error) {
    // The scenario does not build here, or a schedule threw: the coordinator fails with this rather than waiting.
    log(`${what} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    // Not awaited: a coordinator that already failed or closed would hold this worker for the reply timeout.
    void Promise.resolve()
      .then(() => send({ worker: worker.name, error: `${what}: ${describe(error)}` }))
      .catch(() => undefined);
    msg.term();
  } finally {
    clearInterval(heartbeat);
  }
}
