/**
 * From a failing schedule to a reproducer a person can read and commit: shrink its faults and
 * choices (delta debugging), write them as ordinary `faults:` entries in a copy of the scenario
 * plus the few order choices only a schedule can say, and check that this reproduces the same
 * failure before writing it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { formatFinding, signatureOf, type Finding } from '../core/explore/properties.js';
import { ReplayScheduler, type ScheduledChoice, type ScheduleFile } from '../core/schedule/choices.js';
import { parseScenario } from '../core/scenario/load.js';
import type { Scenario } from '../core/scenario/schema.js';
import type { FoundFailure } from './explore.js';
import { atomsOf, choicesOf, isFaultAtom, readableFaults, withScripted, type Atom } from './reproducer.js';
import { runSchedule, type ExploreTarget, type ScheduleOutcome } from './runner.js';
import { ddmin } from './shrink.js';

export interface Reproducer {
  dir: string;
  finding: Finding;
  /** Faults in the run that found it, and in the minimal reproducer's run. */
  faultsBefore: number;
  faultsAfter: number;
  /** The reproducer is the scenario's own file with readable faults (else: shrunk scenario plus a full schedule). */
  readable: boolean;
  lines: string[];
  shrinkRuns: number;
  /** How to run it. */
  command: string;
}

/**
 * `doc`: the scenario file as written (YAML data), so the reproducer keeps the user's text
 * apart from its faults; `name`: the failure's folder name under `outDir`.
 */
export async function reproduce(target: ExploreTarget, failure: FoundFailure, doc: Record<string, unknown>, dir: string): Promise<Reproducer> {
  const scenario = target.scenario;
  const same = (o: ScheduleOutcome) => o.findings.some((f) => signatureOf(f) === failure.signature);
  const attempt = (atoms: readonly Atom[]) => runSchedule(target, new ReplayScheduler(choicesOf(atoms)), {}, withScripted(scenario, atoms));
  const atoms = atomsOf(scenario, failure.made);
  const full = await attempt(atoms);
  if (!same(full))
    throw new Error(`the failing schedule did not fail again when replayed (${failure.signature}): something outside the schedule is nondeterministic`);
  const shrunk = await ddmin(atoms, async (subset) => same(await attempt(subset)));
  const kept = shrunk.items;

  mkdirSync(dir, { recursive: true });
  const readable = readableFaults(scenario, kept, target.space);
  const readableDoc = { ...doc, faults: readable.faults };
  const readableScenario = parseScenario(stringify(readableDoc), join(dir, 'scenario.yaml'));
  const runDir = join(dir, 'run');
  let outcome = await runSchedule({ ...target, space: null }, new ReplayScheduler(readable.order), { outDir: runDir }, readableScenario);
  const isReadable = same(outcome);
  let scheduleChoices: ScheduledChoice[] = readable.order;
  let written: unknown = readableDoc;
  if (!isReadable) {
    // Fall back on the exact form: the shrunk scenario and every kept choice, replayed with the fault space on.
    const exact = withScripted(scenario, kept);
    scheduleChoices = choicesOf(kept);
    outcome = await runSchedule(target, new ReplayScheduler(scheduleChoices), { outDir: runDir }, exact);
    if (!same(outcome)) throw new Error(`the shrunk schedule did not reproduce ${failure.signature}`);
    written = { ...doc, faults: exact.faults };
  }
  const finding = outcome.findings.find((f) => signatureOf(f) === failure.signature) as Finding;
  writeFileSync(join(dir, 'scenario.yaml'), `# Reproducer found by fedmkt explore: ${formatFinding(finding)}\n${stringify(written)}`);
  const schedule: ScheduleFile = { format: 'fedmkt-schedule', version: 1, scenario: scenario.name, seed: scenario.seed, choices: scheduleChoices };
  writeFileSync(join(dir, 'schedule.json'), `${JSON.stringify(schedule, null, 2)}\n`);
  const command = `npx fedmkt run ${join(dir, 'scenario.yaml')} --schedule ${join(dir, 'schedule.json')}`;
  const result: Reproducer = {
    dir,
    finding,
    faultsBefore: full.faults,
    faultsAfter: outcome.faults,
    readable: isReadable,
    lines: readable.lines,
    shrinkRuns: shrunk.runs,
    command,
  };
  writeFileSync(join(dir, 'failure.md'), describe(result, kept, scenario));
  return result;
}

function describe(r: Reproducer, kept: readonly Atom[], scenario: Scenario): string {
  const faults = kept.filter(isFaultAtom).length;
  return [
    `# ${formatFinding(r.finding)}`,
    '',
    `Found by \`fedmkt explore\` in scenario ${scenario.name} (seed ${scenario.seed}); shrunk from ${r.faultsBefore} faults to ${r.faultsAfter} (${faults} fault entr${faults === 1 ? 'y' : 'ies'}, ${kept.length - faults} order choice${kept.length - faults === 1 ? '' : 's'}) in ${r.shrinkRuns} runs.`,
    '',
    '## What happens',
    '',
    ...(r.lines.length ? r.lines.map((l) => `- ${l}`) : ['- nothing added: the scenario fails as it is']),
    '',
    '## Reproduce',
    '',
    '```sh',
    r.command,
    '```',
    '',
    r.readable
      ? '`scenario.yaml` states every fault as an ordinary `faults:` entry; `schedule.json` holds only the order of events due at the same virtual time (empty: none needed).'
      : "`scenario.yaml` keeps the scenario's faults that matter; `schedule.json` lists every added fault and order choice (the readable form did not reproduce this failure).",
    '',
    `The run's records are in \`run/\` (\`npx fedmkt report ${join(r.dir, 'run')}\`).`,
    '',
    '## As a regression test',
    '',
    "Fix the protocol, then record the reproducer's now-passing run where the suite replays saved runs:",
    '',
    '```sh',
    `${r.command} --out test/regressions/<name>`,
    '```',
    '',
  ].join('\n');
}
