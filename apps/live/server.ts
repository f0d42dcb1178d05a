/**
 * The live view's HTTP server (node:http only, 127.0.0.1 only): one self-contained page, the
 * statecharts as JSON, and a Server-Sent Events stream of throttled snapshots. It takes
 * RunEvents from any source: `push` them one by one (the recorder's onEvent of an in-process
 * run), or hand `consume` an async iterable (a NATS subscription to the monitoring subject
 * `fedmkt.<run>.events.>`, a replayed events.jsonl). However fast events come, each browser
 * gets at most one snapshot per `intervalMs` (default 100 ms: 10 Hz), of bounded size.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LiveState, type LiveStateOptions } from './live-state.js';
import type { LiveEvent, LiveSnapshot } from './snapshot.js';
import { livePage } from './page.js';
import { livePageScript } from './page-script.js';
import type { LiveCharts } from './statecharts.js';

export interface LiveServerOptions extends LiveStateOptions {
  /** 0 (default): a free port. */
  port?: number;
  /** Snapshot interval in ms (default 100). */
  intervalMs?: number;
  /** The machines to draw; without them the page shows no statecharts. */
  charts?: LiveCharts;
}

const LOOPBACK = '127.0.0.1';
const CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Subscriber {
  res: ServerResponse;
  /** The socket's buffer is full: skip snapshots until it drains (each snapshot is complete). */
  blocked: boolean;
  lastSeq: number;
}

export class LiveServer {
  readonly state: LiveState;
  private readonly server: Server;
  private readonly subscribers = new Set<Subscriber>();
  private readonly options: LiveServerOptions;
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private chartsJson: string;
  private port = 0;
  private closed = false;
  /** Snapshots written to browsers (all of them together). */
  sentSnapshots = 0;

  private constructor(options: LiveServerOptions) {
    this.options = options;
    this.state = new LiveState(options);
    this.chartsJson = JSON.stringify(options.charts ?? {});
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** Starts listening on 127.0.0.1 (`port`, or a free one). */
  static async start(options: LiveServerOptions = {}): Promise<LiveServer> {
    livePageScript(); // bundled now, once per process: a broken bundle fails here, not in the browser
    const live = new LiveServer(options);
    await new Promise<void>((resolve, reject) => {
      live.server.once('error', reject);
      live.server.listen(options.port ?? 0, LOOPBACK, () => {
        live.server.off('error', reject);
        resolve();
      });
    });
    live.port = (live.server.address() as AddressInfo).port;
    live.timer = setInterval(() => live.flush(), options.intervalMs ?? 100);
    live.timer.unref();
    live.heartbeat = setInterval(() => {
      for (const s of live.subscribers) if (!s.blocked) s.res.write(': keep-alive\n\n');
    }, 15_000);
    live.heartbeat.unref();
    return live;
  }

  get url(): string {
    return `http://${LOOPBACK}:${this.port}/`;
  }

  /** Browsers connected to the event stream. */
  get connections(): number {
    return this.subscribers.size;
  }

  /** One event of the run. */
  push(event: LiveEvent): void {
    this.state.push(event);
  }

  /** Every event of `source`, as it comes; resolves when it ends. */
  async consume(source: AsyncIterable<LiveEvent> | Iterable<LiveEvent>): Promise<void> {
    for await (const event of source) this.push(event);
  }

  /** The run is over: the page says so (with the final states) and stops listening. */
  end(info: { finalStates?: Record<string, string>; text?: string } = {}): void {
    this.state.end(info);
    this.flush();
    for (const s of this.subscribers) s.res.write('event: end\ndata: {}\n\n');
  }

  /** Sends the current snapshot to every browser that has not seen it. */
  flush(): void {
    if (this.subscribers.size === 0) return;
    let payload: string | null = null;
    for (const s of this.subscribers) {
      if (s.blocked || s.lastSeq === this.state.seq) continue;
      payload ??= `event: snapshot\ndata: ${JSON.stringify(this.state.snapshot())}\n\n`;
      s.lastSeq = this.state.seq;
      this.sentSnapshots++;
      if (!s.res.write(payload)) {
        s.blocked = true;
        s.res.once('drain', () => {
          s.blocked = false;
        });
      }
    }
  }

  snapshot(): LiveSnapshot {
    return this.state.snapshot();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const s of this.subscribers) s.res.end();
    this.subscribers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // Only pages served from here: a DNS-rebound name gets nothing.
    const host = req.headers.host ?? '';
    if (host !== `${LOOPBACK}:${this.port}` && host !== `localhost:${this.port}`) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    // Path and query by hand: `new URL('//x', base)` would read `x` as a host.
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const url = { pathname: q < 0 ? raw : raw.slice(0, q), searchParams: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
    const common = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    switch (url.pathname) {
      case '/':
      case '/index.html':
        res
          .writeHead(200, { ...common, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP })
          .end(livePage(this.options.title ?? 'run'));
        return;
      case '/charts.json':
        res.writeHead(200, { ...common, 'content-type': 'application/json' }).end(this.chartsJson);
        return;
      case '/snapshot.json':
        res.writeHead(200, { ...common, 'content-type': 'application/json' }).end(JSON.stringify(this.state.snapshot()));
        return;
      case '/actor.json': {
        const row = this.state.actorRow(url.searchParams.get('id') ?? '');
        res.writeHead(row ? 200 : 404, { ...common, 'content-type': 'application/json' }).end(JSON.stringify(row));
        return;
      }
      case '/events':
        this.subscribe(req, res);
        return;
      case '/favicon.ico':
        res.writeHead(204, common).end();
        return;
      default:
        res.writeHead(404, { ...common, 'content-type': 'text/plain' }).end('not found\n');
    }
  }

  private subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const sub: Subscriber = { res, blocked: false, lastSeq: -1 };
    res.write('retry: 1000\n\n');
    this.subscribers.add(sub);
    req.on('close', () => this.subscribers.delete(sub));
    // The state as it is now, at once; then at most one snapshot per interval.
    sub.lastSeq = this.state.seq;
    res.write(`event: snapshot\ndata: ${JSON.stringify(this.state.snapshot())}\n\n`);
    if (this.state.isEnded) res.write('event: end\ndata: {}\n\n');
  }
}
