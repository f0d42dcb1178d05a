/**
 * Running a scenario over NATS: the same actors and machines as a local run, on the NATS
 * transport with the wall clock, one process for the whole federation or one per actor.
 * Every actor publishes its events on the monitoring subject; the server process waits for
 * the clients' presence there before it opens round 1, so nobody misses the announcement.
 */
import { WallClock } from '../core/clock/clock.js';
import { readNatsCredential, credentialLogin } from '../core/nats/access-config.js';
import { startNatsServer } from '../core/nats/server-process.js';
import type { Scenario } from '../core/scenario/schema.js';
import { NatsTransport } from '../core/transport/nats-transport.js';
import { runFederation, type LearningStack, type RunResult } from './federation.js';
import { publishEvents, watchEvents } from './monitor.js';
import type { RunEvent } from './run-recorder.js';

export interface NatsRunOptions {
  /** NATS server URL(s); with `spawn` a local server is started instead. */
  servers?: string | string[];
  /** Start a local nats-server on a free loopback port for this run and stop it after. */
  spawn?: boolean;
  /** Which actors run in this process: `server`, client ids; default all. */
  parties?: readonly string[];
  /** A credential file written by `fedmkt nats-config` (single-actor processes). */
  credentialFile?: string;
  learning: LearningStack;
  outDir?: string;
  onEvent?: (event: RunEvent) => void;
  /** How long the server waits for absent clients before opening round 1 anyway (default 60 s). */
  presenceTimeoutMs?: number;
  log?: (line: string) => void;
}

export async function runOverNats(scenario: Scenario, options: NatsRunOptions): Promise<RunResult> {
  const run = scenario.name;
  const clientIds = scenario.clients.map((c) => c.id);
  const parties = options.parties ?? ['server', ...clientIds];
  const spawned = options.spawn ? await startNatsServer() : null;
  const servers = spawned?.url ?? options.servers;
  if (!servers) throw new Error('NATS: give a server URL (--nats URL) or --spawn-nats');
  if (spawned) options.log?.(`started nats-server at ${spawned.url}`);
  const login = options.credentialFile ? credentialLogin(readNatsCredential(options.credentialFile)) : undefined;
  if (login && (parties.length !== 1 || parties[0] !== login.name))
    throw new Error(`NATS credential ${options.credentialFile} is for "${login.name}"; this process runs ${parties.join(', ')}`);
  const transport = await NatsTransport.connect({
    servers,
    name: parties.length === 1 ? `fedmkt-${run}-${parties[0]}` : `fedmkt-${run}`,
    ...(login ? { user: login.user, pass: login.pass, inboxPrefix: login.inboxPrefix } : {}),
    logger: { warn: (line: string) => options.log?.(line), error: (line: string) => options.log?.(line) },
  });
  options.log?.(`connected to ${transport.server} (max payload ${transport.maxPayload} bytes)`);

  // Presence: each local client says it is listening until the server's first announcement reaches it.
  const present = new Set<string>();
  const heartbeats = new Map<string, NodeJS.Timeout>();
  const watcher = parties.includes('server')
    ? watchEvents(transport, run, (e) => {
        if (e.kind === 'presence' || e.actor !== 'server') present.add(e.actor);
      })
    : null;
  const monitor = publishEvents(transport, run, (error) => options.log?.(`monitoring publish failed: ${error.message}`));
  const beat = (id: string) => monitor({ t: Date.now(), actor: id, round: 0, kind: 'presence' });
  const onEvent = (event: RunEvent) => {
    monitor(event);
    options.onEvent?.(event);
    if (event.kind === 'state' && event.actor !== 'server' && parties.includes(event.actor) && !heartbeats.has(event.actor) && event.round === 0) {
      beat(event.actor);
      heartbeats.set(event.actor, setInterval(() => beat(event.actor), 500));
    }
    if (event.kind === 'accepted' && event.message === 'round-start') {
      clearInterval(heartbeats.get(event.actor));
    }
  };

  try {
    return await runFederation(scenario, {
      learning: options.learning,
      onEvent,
      ...(options.outDir ? { outDir: options.outDir } : {}),
      deployment: {
        transport,
        clock: new WallClock(),
        parties,
        beforeServer: async () => {
          const deadline = Date.now() + (options.presenceTimeoutMs ?? 60_000);
          while (Date.now() < deadline && clientIds.some((id) => !present.has(id))) await sleep(50);
          const missing = clientIds.filter((id) => !present.has(id));
          options.log?.(missing.length ? `opening round 1 without ${missing.join(', ')} (no presence)` : `all ${clientIds.length} clients present`);
        },
      },
    });
  } finally {
    for (const t of heartbeats.values()) clearInterval(t);
    try {
      watcher?.unsubscribe();
    } catch {
      // the run already closed the connection
    }
    await transport.close();
    await spawned?.stop();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
