/**
 * A population over NATS, split over processes. The server's process chooses each round's
 * clients with the selection of a local run; the processes hosting them bring their actors up
 * before the server announces the round to them, as a local run's host does. Process K of N
 * (`fedmkt join --population-part K/N`) hosts the clients whose index is K mod N:
 *
 *   fedmkt.<run>.population.<K>        server -> part K   { id, kind: status | bring-up, round, clients? }
 *   fedmkt.<run>.population-reply.<K>  part K -> server   { id, busy, up }
 *
 * `busy`: the part's clients still in an earlier round (stragglers), whom the selection skips;
 * `up`: the clients of a bring-up now listening. Requests and replies are JSON on the
 * deployment's own connection, outside the protocol's messages (no message faults apply).
 */
import type { Clock } from '../core/clock/clock.js';
import { broadcastsOf, populationSubjects } from '../core/protocol/subjects.js';
import { populationPartActor } from '../core/pseudo-actors.js';
import type { ActorId } from '../core/protocol/messages.js';
import type { PopulationModel } from '../core/population/population.js';
import type { RunEvent } from '../core/records.js';
import type { Subscription, Transport } from '../core/transport/transport.js';
import type { Chosen, ChosenClient, PopulationHost } from './population-host.js';

/** Part `part` (0-based) of `parts`: the clients whose index is `part` mod `parts`. */
export interface PopulationPart {
  part: number;
  parts: number;
}

type RequestBody = { round: number } & ({ kind: 'status' } | { kind: 'bring-up'; clients: [number, boolean][] });
type Request = { id: number } & RequestBody;

interface Reply {
  id: number;
  busy: number[];
  up: ActorId[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `K/N` as given on the command line: part K (0-based) of N. */
export function parsePopulationPart(text: string): PopulationPart {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const part = match ? Number(match[1]) : Number.NaN;
  const parts = match ? Number(match[2]) : Number.NaN;
  if (!match || parts < 1 || part >= parts) throw new Error(`"${text}": expected K/N with 0 <= K < N (this process hosts part K of N)`);
  return { part, parts };
}

function publishJson(transport: Transport, subject: string, value: unknown, sender: string, messageId: string): Promise<void> {
  return transport.publish(subject, encoder.encode(JSON.stringify(value)), { sender, messageId });
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
}

function isRequest(value: unknown): value is Request {
  const r = value as Partial<Request> & { clients?: unknown };
  if (typeof r !== 'object' || r === null || !Number.isInteger(r.id) || !Number.isInteger(r.round)) return false;
  if (r.kind === 'status') return true;
  return r.kind === 'bring-up' && Array.isArray(r.clients) && r.clients.every((c) => Array.isArray(c) && Number.isInteger(c[0]) && typeof c[1] === 'boolean');
}

function isReply(value: unknown): value is Reply {
  const r = value as Partial<Reply>;
  return (
    typeof r === 'object' &&
    r !== null &&
    Number.isInteger(r.id) &&
    Array.isArray(r.busy) &&
    r.busy.every(Number.isInteger) &&
    Array.isArray(r.up) &&
    r.up.every((id) => typeof id === 'string')
  );
}

/**
 * The server's side: what the server actor's `population` asks for (select, dropouts), over
 * the hosting processes. A part that does not answer within `timeoutMs` has none of its
 * clients chosen or announced that round (the run says so in its log).
 */
class RemoteSelection {
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private readonly droppedOut = new Map<number, number>();
  private readonly subscriptions: Subscription[];
  private nextId = 1;

  constructor(
    private readonly deps: {
      transport: Transport;
      run: string;
      parts: number;
      host: PopulationHost;
      model: PopulationModel;
      timeoutMs: number;
      /** The run's events as the deployment hears them (from every process). */
      watch: (listener: (event: RunEvent) => void) => void;
      log?: (line: string) => void;
    },
  ) {
    const { transport, run } = deps;
    deps.watch((event) => this.heard(event));
    this.subscriptions = [
      transport.subscribe(populationSubjects(run, '*').reply, ({ subject, data }) => {
        const reply = parseJson(data);
        if (!isReply(reply)) {
          deps.log?.(`${subject}: not a population reply (${data.byteLength} bytes); ignored`);
          return;
        }
        this.pending.get(reply.id)?.(reply);
      }),
    ];
  }

  async select(round: number): Promise<Chosen> {
    const { parts, host, model } = this.deps;
    const everyPart = Array.from({ length: parts }, (_, part) => part);
    const statuses = await Promise.all(everyPart.map((part) => this.ask(part, { kind: 'status', round })));
    const busy = new Set(statuses.flatMap((reply) => reply?.busy ?? []));
    // A part that did not answer (its process gone, say) has its clients out of reach this round; it is asked again the next.
    const silent = new Set(everyPart.filter((part) => statuses[part] === null));
    const chosen = host.choose(round, { has: (index) => busy.has(index) || silent.has(index % parts), size: busy.size + silent.size });
    const byPart = new Map<number, ChosenClient[]>();
    for (const c of chosen) {
      const part = c.index % parts;
      if (!byPart.has(part)) byPart.set(part, []);
      byPart.get(part)!.push(c);
    }
    const replies = await Promise.all(
      [...byPart].map(([part, clients]) => this.ask(part, { kind: 'bring-up', round, clients: clients.map((c) => [c.index, c.evaluate]) })),
    );
    const up = new Set(replies.flatMap((reply) => reply?.up ?? []));
    const announced = chosen.filter((c) => up.has(model.idOf(c.index)));
    return { clients: announced.map((c) => model.idOf(c.index)), templates: announced.map((c) => model.templateOf(c.index)) };
  }

  dropouts(round: number): number {
    return this.droppedOut.get(round) ?? 0;
  }

  close(): void {
    for (const s of this.subscriptions) s.unsubscribe();
  }

  /** A client whose device went offline mid-round (a hosting process's record). */
  private heard(event: RunEvent): void {
    if (event.kind === 'dropout' && event.cause === 'availability' && this.deps.model.indexOf(event.actor) !== null)
      this.droppedOut.set(event.round, (this.droppedOut.get(event.round) ?? 0) + 1);
  }

  private ask(part: number, body: RequestBody): Promise<Reply | null> {
    const { transport, run, timeoutMs, log } = this.deps;
    const id = this.nextId++;
    return new Promise<Reply | null>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        log?.(`population part ${part} did not answer the ${body.kind} request of round ${body.round} within ${timeoutMs / 1000} s`);
        resolve(null);
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(reply);
      });
      publishJson(transport, populationSubjects(run, part).request, { id, ...body }, 'server', `server:population:${id}`).catch((error: unknown) =>
        log?.(`population request to part ${part} failed: ${(error as Error).message}`),
      );
    });
  }
}

/**
 * A hosting process's side: answers the server's requests for part `part`, brings up the
 * clients it is asked to, and knows when it is done (the server has finished the run and none
 * of its clients is still up, or the server has been silent for `silenceMs`).
 */
class PopulationPartService {
  private readonly subscriptions: Subscription[];
  private finished = false;
  private heardAt: number;
  private silent = false;

  constructor(
    private readonly deps: {
      transport: Transport;
      run: string;
      part: PopulationPart;
      host: PopulationHost;
      clock: Clock;
      silenceMs: number;
      onListening?: () => void;
      onRequest?: () => void;
      log?: (line: string) => void;
    },
  ) {
    const { transport, run, part, clock } = deps;
    this.heardAt = clock.now();
    const subjects = populationSubjects(run, part.part);
    this.subscriptions = [
      transport.subscribe(subjects.request, ({ subject, data }) => {
        const request = parseJson(data);
        if (!isRequest(request)) {
          deps.log?.(`${subject}: not a population request (${data.byteLength} bytes); ignored`);
          return;
        }
        this.heardAt = clock.now();
        deps.onRequest?.();
        void this.answer(request);
      }),
      transport.subscribe(broadcastsOf(run, 'finish'), () => {
        this.finished = true;
      }),
    ];
    deps.onListening?.();
  }

  /** Nothing left to host: the run is over for this process. */
  done(): boolean {
    if (this.deps.host.liveClients().length > 0) return false;
    if (this.finished) return true;
    if (!this.silent && this.deps.clock.now() - this.heardAt > this.deps.silenceMs) {
      this.silent = true;
      this.deps.log?.(`population part ${this.deps.part.part}: no word from the server for ${this.deps.silenceMs / 1000} s; stopping`);
    }
    return this.silent;
  }

  close(): void {
    for (const s of this.subscriptions) s.unsubscribe();
  }

  private async answer(request: Request): Promise<void> {
    const { transport, run, part, host, log } = this.deps;
    let up: ActorId[] = [];
    if (request.kind === 'bring-up') {
      const mine = request.clients.filter(([index]) => index % part.parts === part.part).map(([index, evaluate]) => ({ index, evaluate }));
      up = (await host.bringUpChosen(request.round, mine)).clients;
    }
    const reply: Reply = { id: request.id, busy: host.liveIndices(), up };
    const actor = populationPartActor(part.part);
    await publishJson(transport, populationSubjects(run, part.part).reply, reply, actor, `${actor}:reply:${request.id}`).catch((error: unknown) =>
      log?.(`population part ${part.part}: reply failed: ${(error as Error).message}`),
    );
  }
}

/** A deployment's population split over processes (none: every client hosted where the server runs). */
export interface DeploymentPopulation {
  parts: number;
  /** The part this process hosts; none: this process runs the server only. */
  part?: number;
  /** How long the server waits for a part's answer (default 30 s). */
  timeoutMs?: number;
  /** A hosting process: called once it listens for the server's requests (its presence may begin). */
  onListening?: () => void;
  /** Called on each of the server's requests (a hosting process's presence ends at the first). */
  onRequest?: () => void;
  /** The run's events as the deployment hears them (the server's process: from every process). */
  watch: (listener: (event: RunEvent) => void) => void;
  log?: (line: string) => void;
}

/**
 * What a population's host is to this process: the server's selection (local, or over the
 * hosting processes) and, in a hosting process, when it is done.
 */
export function populationRoles(args: {
  host: PopulationHost;
  model: PopulationModel;
  run: string;
  clock: Clock;
  serverSilenceMs: number;
  serverHere: boolean;
  /** The deployment's own transport (outside the fault layer), with the split; none: a local run. */
  split?: { transport: Transport; population: DeploymentPopulation };
}): { selection: { select(round: number): Promise<Chosen>; dropouts(round: number): number }; done: () => boolean; close(): void } {
  const { host, model, run, clock, split } = args;
  if (!split) return { selection: host, done: () => true, close: () => undefined };
  const { transport, population } = split;
  const log = population.log;
  const service =
    population.part === undefined
      ? null
      : new PopulationPartService({
          transport,
          run,
          part: { part: population.part, parts: population.parts },
          host,
          clock,
          silenceMs: args.serverSilenceMs,
          ...(population.onListening ? { onListening: population.onListening } : {}),
          ...(population.onRequest ? { onRequest: population.onRequest } : {}),
          ...(log ? { log } : {}),
        });
  const remote = args.serverHere
    ? new RemoteSelection({
        transport,
        run,
        parts: population.parts,
        host,
        model,
        timeoutMs: population.timeoutMs ?? 30_000,
        watch: population.watch,
        ...(log ? { log } : {}),
      })
    : null;
  return {
    selection: remote ?? host,
    done: () => service?.done() ?? true,
    close: () => {
      remote?.close();
      service?.close();
    },
  };
}
