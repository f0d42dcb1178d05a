/**
 * What XState alone costs a population's client for one round, for population.bench.ts: the
 * project's client machine (machines/client.ts) with every step's work an instant promise, no
 * transport, clock, records or checks; `announced` clients at a time, each taken through a
 * round (announcement, its steps, the LLM's logits, released), as a population's are. No run
 * can do a client's round in less; with the events a run records per client and round, this
 * bounds the events per second a run with one XState actor per client can reach.
 */
import { createActor, fromPromise, setup } from 'xstate';
import { loadScenario } from '../core/scenario/load.js';
import type { PublicLogits } from '../core/protocol/messages.js';
import type { AlignedTeacher } from '../core/alignment/aligned-teacher.js';
import { clientMachine, type ClientWork } from '../machines/client.js';
import { clientMachineInput } from '../actors/machine-inputs.js';

/** Step `_step`'s work, done at once with `value`. */
const instant = <K extends keyof ClientWork>(_step: K, value: Awaited<ReturnType<ClientWork[K]>>) =>
  fromPromise<Awaited<ReturnType<ClientWork[K]>>, Parameters<ClientWork[K]>[0]>(() => Promise.resolve(value));

const machine = clientMachine.provide({
  actions: { acknowledgeFinish: () => undefined },
  actors: {
    trainPrivate: instant('trainPrivate', { loss: 1 }),
    computePublicLogits: instant('computePublicLogits', { logits: {} as PublicLogits }),
    uploadLogits: instant('uploadLogits', undefined),
    alignLLMTokens: instant('alignLLMTokens', { teacher: {} as AlignedTeacher }),
    distillFromLLM: instant('distillFromLLM', { loss: 1 }),
    uploadAdapter: instant('uploadAdapter', undefined),
    applyAdapterAverage: instant('applyAdapterAverage', undefined),
    evaluate: instant('evaluate', undefined),
  },
});

/** Delayed transitions (deadlines) never come due here: a clock that only counts them. */
let timers = 0;
const idleClock = { setTimeout: () => ++timers, clearTimeout: () => undefined };

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Wall microseconds per client and round, over `rounds` rounds of `announced` clients (the first round a warm-up). */
export async function xstateMicrosPerClientRound(announced: number, rounds: number): Promise<number> {
  const scenario = loadScenario('scenarios/population.yaml');
  let micros = 0;
  for (let round = 1; round <= rounds + 1; round++) {
    const start = process.hrtime.bigint();
    const actors = Array.from({ length: announced }, (_, i) => {
      const actor = createActor(machine, { clock: idleClock, input: clientMachineInput(scenario, `c${i}`, 0, round) });
      actor.subscribe(() => undefined);
      return actor.start();
    });
    const base = { round, sender: 'server', messageId: `server:${round}` };
    for (const a of actors) a.send({ type: 'ROUND_START', ...base, uploadDeadline: 0 });
    for (let k = 0; k < 4; k++) await turn();
    for (const a of actors) a.send({ type: 'LLM_LOGITS', ...base, logits: {} as PublicLogits });
    for (let k = 0; k < 4; k++) await turn();
    const unfinished = actors.filter((a) => a.getSnapshot().status !== 'done').length;
    if (unfinished > 0) throw new Error(`xstate floor: ${unfinished} of ${announced} clients did not finish round ${round}`);
    if (round > 1) micros += Number(process.hrtime.bigint() - start) / 1e3;
  }
  return micros / (announced * rounds);
}

/** A bare machine that invokes an instant promise `steps` times in a row: XState's own price of an invoked step. */
const STEPS = 7;
const bare = setup({ actors: { step: fromPromise(() => Promise.resolve(1)) } }).createMachine({
  initial: 's0',
  states: Object.fromEntries([
    ...Array.from({ length: STEPS }, (_, i) => [`s${i}`, { invoke: { src: 'step' as const, onDone: i + 1 < STEPS ? `s${i + 1}` : 'end' } }]),
    ['end', { type: 'final' as const }],
  ]),
});

/** Wall microseconds per invoked step of a bare machine, `actors` machines at a time (the first batch a warm-up). */
export async function xstateMicrosPerInvokedStep(actors: number, batches: number): Promise<number> {
  let micros = 0;
  for (let batch = 0; batch <= batches; batch++) {
    const start = process.hrtime.bigint();
    const running = Array.from({ length: actors }, () => createActor(bare).start());
    for (let k = 0; k < STEPS + 2; k++) await turn();
    if (running.some((a) => a.getSnapshot().status !== 'done')) throw new Error('xstate bare machine: not every actor finished');
    if (batch > 0) micros += Number(process.hrtime.bigint() - start) / 1e3;
  }
  return micros / (actors * batches * STEPS);
}
