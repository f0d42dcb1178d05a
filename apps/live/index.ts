/**
 * The live view of a run (`fedmkt run SCENARIO --ui`): a local page that follows the actors'
 * states on their statecharts, the round's progress and the messages as they flow. See
 * docs/visualising.md.
 */
import type { RunClock } from '../../core/run-clock.js';
import type { Scenario } from '../../core/scenario/schema.js';
import type { LiveEvent } from './snapshot.js';
import { LiveServer } from './server.js';
import { liveCharts, liveOptionsFromScenario } from './statecharts.js';
import { connectStately, type StatelyBridge } from './stately.js';

export type { LiveEvent, LiveSnapshot } from './snapshot.js';
export { livePage } from './page.js';
export { replay } from './replay.js';
export { LiveServer } from './server.js';
export { liveCharts, liveOptionsFromScenario } from './statecharts.js';

export interface LiveRunOptions {
  /** Serve the live page. */
  ui?: boolean;
  /** Port for the page (default: a free one). */
  port?: number;
  /** Close the page's server when the run ends instead of waiting for Ctrl-C. */
  exitAtEnd?: boolean;
  /** Mirror the run to Stately's inspector: true (stately.ai sky) or a ws:// URL. */
  inspect?: boolean | string;
  /** The run's clock: virtual (local runs) or wall (NATS); the page shows times since its origin. */
  clock?: RunClock;
  log?: (line: string) => void;
}

export interface LiveRun {
  server: LiveServer | null;
  /** Every event of the run goes here. */
  onEvent(event: LiveEvent): void;
  /** The run is over: tell the page, then close at once (exitAtEnd) or on Ctrl-C. */
  finish(info?: { finalStates?: Record<string, string>; text?: string }): Promise<void>;
}

/** Starts what `--ui` / `--inspect` ask for; null when neither. */
export async function startLiveRun(scenario: Scenario, options: LiveRunOptions): Promise<LiveRun | null> {
  if (!options.ui && !options.inspect) return null;
  const log = options.log ?? ((line: string) => process.stderr.write(`[fedmkt] ${line}\n`));
  let server: LiveServer | null = null;
  if (options.ui) {
    server = await LiveServer.start({
      ...liveOptionsFromScenario(scenario),
      charts: liveCharts(scenario),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.clock ? { clock: options.clock.kind } : {}),
    });
    log(`live view: ${server.url}`);
  }
  let stately: StatelyBridge | null = null;
  if (options.inspect) stately = await connectStately({ ...(typeof options.inspect === 'string' ? { url: options.inspect } : {}), log });
  return {
    server,
    onEvent(event) {
      // The page counts from the run's start: epoch milliseconds of a wall-clock run made relative.
      const origin = options.clock?.origin ?? 0;
      server?.push(origin === 0 ? event : { ...event, t: event.t - origin });
      stately?.push(event);
    },
    async finish(info = {}) {
      stately?.stop();
      if (!server) return;
      server.end(info);
      if (options.exitAtEnd) {
        await server.close();
        return;
      }
      log(`the run is over; the live view stays at ${server.url} — press Ctrl-C to exit`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
    },
  };
}
