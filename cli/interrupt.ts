/**
 * Ctrl-C (or SIGTERM, SIGHUP) during a run: say how to go on from the run's checkpoints, then
 * end the process. Records are written as they happen, so nothing recorded is lost; exiting
 * (rather than dying of the signal) runs the exit hooks that stop child processes such as a
 * spawned nats-server, and worker threads end with the process.
 */
import { checkedCommonRound } from '../actors/round-checkpoints.js';

const SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

export interface InterruptInfo {
  outDir: string;
  actors: readonly string[];
  /** A population run: its population checkpoints go with the server's. */
  population?: boolean;
  /** Whether this run writes round checkpoints. */
  checkpoints: boolean;
  /** The command that goes on from them, e.g. `npx fedmkt run --resume runs/x`. */
  resumeCommand: string;
}

/** What to tell a user who stopped the run. */
function interruptMessage(info: InterruptInfo): string {
  if (!info.checkpoints)
    return `interrupted; this run writes no round checkpoints (--no-checkpoints, or bigram models without --checkpoints), so it cannot resume: run it again (records so far in ${info.outDir})`;
  const round = checkedCommonRound(info.outDir, info.actors, info.population === true);
  if (round === null)
    return `interrupted before every actor had checkpointed a round: nothing to resume from yet; run it again (records so far in ${info.outDir})`;
  return `interrupted; every actor has checkpointed round ${round}. Go on from there with:\n  ${info.resumeCommand}`;
}

/** Until the returned function is called, a signal prints {@link interruptMessage} and exits. */
export function exitOnInterrupt(info: InterruptInfo, write: (line: string) => void = (line) => process.stderr.write(`\n[fedmkt] ${line}\n`)): () => void {
  const handlers = Object.entries(SIGNALS).map(([signal, code]) => {
    const handler = () => {
      write(interruptMessage(info));
      process.exit(code);
    };
    process.once(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
