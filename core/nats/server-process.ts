import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { requireNatsServerBinary } from './binary.js';
import { LOOPBACK, freePorts } from './free-port.js';
import { renderServerConfig, type ServerConfigSpec } from './server-config.js';

export interface NatsServerOptions {
  /** Enable JetStream; its store goes to `storeDir` or to a temporary directory removed on stop. */
  jetstream?: boolean;
  storeDir?: string;
  /** A nats-server configuration file to include (e.g. the access control from `fedmkt nats-config`). */
  configFile?: string;
  /** Bytes (nats-server's default: 1 MiB). */
  maxPayload?: number;
  /** Bytes buffered per slow subscriber (nats-server's default: 64 MiB). */
  maxPending?: number;
  /** Path of the nats-server binary (default: see findNatsServerBinary). */
  binary?: string;
  /** How long to wait for the server to accept connections (default 10 s). */
  startTimeoutMs?: number;
  /** Receives every line nats-server logs (by default the last lines are kept for error messages only). */
  onLog?: (line: string) => void;
}

export interface NatsServerHandle {
  url: string;
  port: number;
  monitorUrl: string;
  /** The current nats-server process (a restart makes a new one). */
  readonly pid: number;
  /**
   * Kill nats-server outright (SIGKILL: no shutdown, as a crash or a lost machine) and start it
   * again on the same ports with the same configuration and JetStream store.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsClusterHandle {
  urls: string[];
  nodes: NatsServerHandle[];
  /** Stop one node (the others keep running and keep their routes to each other). */
  stopNode(index: number): Promise<void>;
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const START_ATTEMPTS = 3;
const LOG_TAIL_LINES = 40;

/**
 * Children still running and temporary directories not yet removed, cleaned up if this
 * process exits without stopping them (a process killed by a signal cannot clean up).
 */
const running = new Set<ChildProcess>();
const temporaryDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
  });
}

function makeTemporaryDir(prefix: string): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirs.add(dir);
  return dir;
}

function removeTemporaryDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  temporaryDirs.delete(dir);
}

class PortInUseError extends Error {}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when a TCP connection to the port receives the server's INFO line. */
function receivesInfo(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = tcpConnect({ host: LOOPBACK, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('INFO ')));
  });
}

async function monitorJson(monitorUrl: string, path: string): Promise<unknown> {
  try {
    const response = await fetch(`${monitorUrl}${path}`);
    return response.ok ? await response.json() : undefined;
  } catch {
    return undefined;
  }
}

interface SpawnSpec extends ServerConfigSpec {
  binary: string;
  dir: string;
  startTimeoutMs: number;
  onLog: ((line: string) => void) | undefined;
  removeOnStop: string[];
}

interface Launched {
  child: ChildProcess;
  exited: Promise<void>;
  /** Undefined while it runs. */
  exitCode(): number | null | undefined;
  tail: string[];
}

function launch(spec: SpawnSpec, configPath: string): Launched {
  const child = spawn(spec.binary, ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  installExitHook();
  const tail: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      spec.onLog?.(line);
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
    }
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      running.delete(child);
      r();
    }),
  );
  return { child, exited, exitCode: () => exitCode, tail };
}

async function terminate(launched: Launched, signal: NodeJS.Signals): Promise<void> {
  if (launched.exitCode() !== undefined) return;
  launched.child.kill(signal);
  const timer = setTimeout(() => launched.child.kill('SIGKILL'), STOP_GRACE_MS);
  await launched.exited;
  clearTimeout(timer);
}

/** Resolves once the server accepts connections (and JetStream is healthy); throws with its last log lines. */
async function untilReady(spec: SpawnSpec, launched: Launched, configPath: string, monitorUrl: string): Promise<void> {
  const deadline = Date.now() + spec.startTimeoutMs;
  for (;;) {
    const exitCode = launched.exitCode();
    if (exitCode !== undefined) {
      const log = launched.tail.join('\n');
      if (/address already in use/i.test(log)) throw new PortInUseError(log);
      throw new Error(`nats-server (${spec.binary} -c ${configPath}) exited with code ${exitCode} before accepting connections:\n${log}`);
    }
    if (await receivesInfo(spec.port)) {
      const healthy = spec.jetStreamStoreDir === undefined || (await monitorJson(monitorUrl, '/healthz')) !== undefined;
      if (healthy) return;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `nats-server on ${LOOPBACK}:${spec.port} did not accept connections within ${spec.startTimeoutMs} ms; last log lines:\n${launched.tail.join('\n')}`,
      );
    }
    await sleep(25);
  }
}

async function spawnServer(spec: SpawnSpec): Promise<NatsServerHandle> {
  const configPath = join(spec.dir, `nats-server-${spec.port}.conf`);
  writeFileSync(configPath, renderServerConfig(spec));
  const url = `nats://${LOOPBACK}:${spec.port}`;
  const monitorUrl = `http://${LOOPBACK}:${spec.monitorPort}`;
  let current = launch(spec, configPath);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await terminate(current, 'SIGTERM');
      for (const path of spec.removeOnStop) removeTemporaryDir(path);
    })();
    return stopping;
  };
  const ready = async () => {
    try {
      await untilReady(spec, current, configPath, monitorUrl);
    } catch (error) {
      // Keep the temporary files of a failed start out of the way, but only after reading the log.
      await stop();
      throw error;
    }
    if (current.child.pid === undefined) throw new Error(`nats-server on ${url} has no pid`);
  };
  await ready();
  return {
    url,
    port: spec.port,
    monitorUrl,
    get pid() {
      return current.child.pid as number;
    },
    async restart() {
      if (stopping) throw new Error(`nats-server on ${url} was stopped: it cannot be restarted`);
      await terminate(current, 'SIGKILL');
      current = launch(spec, configPath);
      await ready();
    },
    stop,
  };
}

function includePath(configDir: string, configFile: string | undefined): string | undefined {
  // nats-server resolves includes relative to the including file and rejects absolute paths.
  return configFile === undefined ? undefined : relative(configDir, resolve(configFile));
}

/** Start one nats-server on free 127.0.0.1 ports and wait until it accepts connections. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = options.binary ?? requireNatsServerBinary();
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const dir = makeTemporaryDir('fedmkt-nats-');
    const storeDir = options.jetstream ? (options.storeDir ?? join(dir, 'jetstream')) : undefined;
    const [port, monitorPort] = (await freePorts(2)) as [number, number];
    try {
      return await spawnServer({
        binary,
        dir,
        port,
        monitorPort,
        maxPayload: options.maxPayload,
        maxPending: options.maxPending,
        jetStreamStoreDir: storeDir,
        include: includePath(dir, options.configFile),
        startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
        onLog: options.onLog,
        removeOnStop: [dir],
      });
    } catch (error) {
      removeTemporaryDir(dir);
      if (!(error instanceof PortInUseError)) throw error;
      lastError = error;
    }
  }
  throw new Error(`nats-server could not bind free ports after ${START_ATTEMPTS} attempts: ${String(lastError)}`);
}

export interface NatsClusterOptions extends Omit<NatsServerOptions, 'jetstream' | 'storeDir'> {
  /** Cluster name (default `fedmkt`). */
  name?: string;
}

/**
 * Start `size` nats-servers on loopback, each with its own client and cluster port and routes
 * to all the others, and wait until every node has a route to every other node.
 */
export async function startNatsCluster(size = 3, options: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  if (!Number.isInteger(size) || size < 2) throw new Error(`startNatsCluster: size must be an integer >= 2, got ${size}`);
  const binary = options.binary ?? requireNatsServerBinary();
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const dir = makeTemporaryDir('fedmkt-nats-cluster-');
    const ports = await freePorts(size * 3);
    const clusterPorts = ports.slice(size, 2 * size);
    const nodes: NatsServerHandle[] = [];
    try {
      for (let i = 0; i < size; i++) {
        nodes.push(
          await spawnServer({
            binary,
            dir,
            port: ports[i] as number,
            monitorPort: ports[2 * size + i] as number,
            serverName: `node-${i}`,
            maxPayload: options.maxPayload,
            maxPending: options.maxPending,
            include: includePath(dir, options.configFile),
            cluster: {
              name: options.name ?? 'fedmkt',
              port: clusterPorts[i] as number,
              routePorts: clusterPorts.filter((_, j) => j !== i),
            },
            startTimeoutMs,
            onLog: options.onLog,
            removeOnStop: [],
          }),
        );
      }
      await waitForRoutes(nodes, size - 1, startTimeoutMs);
      const stopped = new Set<number>();
      return {
        urls: nodes.map((n) => n.url),
        nodes,
        async stopNode(index: number) {
          const node = nodes[index];
          if (!node) throw new Error(`stopNode: no node ${index} in a cluster of ${size}`);
          stopped.add(index);
          await node.stop();
        },
        async stop() {
          await Promise.all(nodes.map((n) => n.stop()));
          removeTemporaryDir(dir);
        },
      };
    } catch (error) {
      await Promise.all(nodes.map((n) => n.stop()));
      removeTemporaryDir(dir);
      if (!(error instanceof PortInUseError)) throw error;
      lastError = error;
    }
  }
  throw new Error(`nats-server cluster could not bind free ports after ${START_ATTEMPTS} attempts: ${String(lastError)}`);
}

async function waitForRoutes(nodes: NatsServerHandle[], expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(
      nodes.map(async (n) => {
        const routez = (await monitorJson(n.monitorUrl, '/routez')) as { num_routes?: number } | undefined;
        return routez?.num_routes ?? 0;
      }),
    );
    if (counts.every((c) => c >= expected)) return;
    if (Date.now() > deadline) {
      throw new Error(`nats cluster routes not established within ${timeoutMs} ms: routes per node ${counts.join(', ')}, expected ${expected} each`);
    }
    await sleep(50);
  }
}
