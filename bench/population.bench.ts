/**
 * A population at FedScale's scale (scenarios/population.yaml): 100,000 clients, 1,000 uploads
 * awaited per round with over-commit 1.3, 50 rounds, the protocol alone, in-memory transport.
 * Each run in its own process, so that its peak resident memory is its own. Goals: at most 120 s
 * and 2 GiB on 2 cores, at least 100,000 events per second; 1,000,000 clients within 1.2x the
 * memory of 100,000. Also what XState alone allows: the client machine's own cost per round, and
 * the events per second a run could reach at that pace. Runs go with the Node flags that
 * `fedmkt` runs with (bin/fedmkt.js's first line); the 100,000-client run also with Node's
 * defaults, as the baseline of its wall time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Benchmark, Figure } from './harness.js';
import { xstateMicrosPerClientRound, xstateMicrosPerInvokedStep } from './population-xstate.js';

interface Outcome {
  count: number;
  rounds: number;
  roundsWallSeconds: number;
  wallSeconds: number;
  events: number;
  peakRssMiB: number;
  violations: number;
}

/** The Node flags of bin/fedmkt.js's `#!/usr/bin/env -S node FLAGS` line: what a user's run gets. */
function cliNodeFlags(): string[] {
  const line = readFileSync('bin/fedmkt.js', 'utf8').split('\n', 1)[0]!;
  const flags = /^#!\/usr\/bin\/env -S node((?: --\S+)*)$/.exec(line);
  if (!flags) throw new Error(`bin/fedmkt.js: first line "${line}" is not "#!/usr/bin/env -S node [--flag ...]"`);
  return flags[1]!.split(' ').filter(Boolean);
}

function runPopulation(count: number, rounds: number, nodeFlags: readonly string[]): Outcome {
  const out = execFileSync(process.execPath, [...nodeFlags, '--import', 'tsx', 'bench/population-run.ts', String(count), String(rounds)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Outcome;
}

const ROUNDS = 50;

const benchmarks: Benchmark[] = [
  {
    name: 'population',
    async run() {
      const flags = cliNodeFlags();
      const base = runPopulation(100_000, ROUNDS, flags);
      const large = runPopulation(1_000_000, ROUNDS, flags);
      const nodeDefaults = flags.length > 0 ? runPopulation(100_000, ROUNDS, []) : base;
      // The most events per second a run with an XState actor per client can reach: its events per
      // client and round over what the client machine alone takes for one round (bench/population-xstate.ts).
      const announced = 1300;
      const eventsPerClientRound = base.events / (ROUNDS * announced);
      const xstateMicros = await xstateMicrosPerClientRound(announced, 10);
      const invokedStepMicros = await xstateMicrosPerInvokedStep(announced, 10);
      const figures: Figure[] = [
        {
          name: 'population-100k.wall',
          value: base.wallSeconds,
          unit: 's',
          rounds: ROUNDS,
          roundsWallSeconds: base.roundsWallSeconds,
          nodeFlags: flags.join(' '),
          baseline: nodeDefaults.wallSeconds,
          ratio: base.wallSeconds / nodeDefaults.wallSeconds,
          detail: "baseline: the same run with Node's default flags",
          goal: '<= 120',
        },
        {
          name: 'population-100k.peak_rss',
          value: base.peakRssMiB,
          unit: 'MiB',
          baseline: nodeDefaults.peakRssMiB,
          ratio: base.peakRssMiB / nodeDefaults.peakRssMiB,
          goal: '<= 2048',
        },
        { name: 'population-100k.events_per_s', value: base.events / base.roundsWallSeconds, unit: 'events/s', events: base.events, goal: '>= 100000' },
        {
          name: 'population.xstate_client_round',
          value: xstateMicros,
          unit: 'µs per client and round',
          detail: "the client machine alone (work instant, no transport, records or checks): XState's share of a client's round",
        },
        {
          name: 'population.xstate_invoked_step',
          value: invokedStepMicros,
          unit: 'µs per invoked step',
          detail: "a bare XState machine invoking an instant promise (child actor, promise, done event): XState's own price of one of a client's steps",
        },
        {
          name: 'population.xstate_events_per_s_ceiling',
          value: eventsPerClientRound / (xstateMicros / 1e6),
          unit: 'events/s',
          eventsPerClientRound,
          detail: 'events a run records per client and round, at the pace of XState alone: what one XState actor per client allows',
        },
        { name: 'population-100k.violations', value: base.violations, unit: 'invariant violations', goal: '0' },
        { name: 'population-1m.wall', value: large.wallSeconds, unit: 's', rounds: ROUNDS },
        {
          name: 'population-1m.peak_rss',
          value: large.peakRssMiB,
          unit: 'MiB',
          baseline: base.peakRssMiB,
          ratio: large.peakRssMiB / base.peakRssMiB,
          goal: 'ratio <= 1.2',
        },
      ];
      return figures;
    },
  },
];

export default benchmarks;
