/**
 * Stragglers: each client's compute and network profile drawn from a distribution (once, or
 * compute again every round) or read from a trace. Draws come from
 * `Random.stream(seed, 'faults/stragglers/<kind>/<client>[/<round>]')`, so adding a client
 * or a round never shifts another's figures.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { Random } from '../random.js';
import type { Profile, Scenario } from '../scenario/schema.js';
import { TraceRowSchema, type Distribution, type Stragglers, type TraceRow } from './schema.js';

function sample(dist: Distribution, rng: Random): number {
  switch (dist.dist) {
    case 'constant':
      return dist.value as number;
    case 'uniform':
      return (dist.min as number) + rng.next() * ((dist.max as number) - (dist.min as number));
    case 'lognormal':
      return Math.exp((dist.mu ?? 0) + (dist.sigma as number) * rng.normal());
    case 'pareto':
      return (dist.scale ?? 1) / (1 - rng.next()) ** (1 / (dist.alpha as number));
    case 'exponential':
      return -(dist.mean as number) * Math.log(1 - rng.next());
  }
}

export interface ProfileSource {
  /** The profile of `actor` for work done in `round`. */
  profile(actor: string, round: number): Profile;
  /** The profile for its network link (round independent). */
  linkProfile(actor: string): Profile;
  /** What each client drew (for the event log). */
  drawn: { client: string; computeFactor: number | 'per-round'; bandwidthFactor: number; latencyFactor: number }[];
}

/** Read a straggler trace file: CSV with a header row, or a YAML/JSON list of rows. */
function readTraceFile(path: string): TraceRow[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`faults.stragglers.traceFile: cannot read ${path}: ${(error as Error).message}`);
  }
  let rows: unknown[];
  if (/\.(ya?ml|json)$/i.test(path)) {
    const doc = parseYaml(text) as unknown;
    if (!Array.isArray(doc)) throw new Error(`faults.stragglers.traceFile ${path}: expected a list of rows`);
    rows = doc;
  } else {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
    rows = lines.map((line) => {
      const cells = line.split(',').map((c) => c.trim());
      const row: Record<string, unknown> = {};
      header.forEach((h, i) => {
        const cell = cells[i];
        if (cell === undefined || cell === '') return;
        row[h] = h === 'client' ? cell : Number(cell);
      });
      return row;
    });
  }
  return rows.map((row, i) => {
    const parsed = TraceRowSchema.safeParse(row);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new Error(`faults.stragglers.traceFile ${path}: row ${i + 1}: ${first?.path.join('.') || '(row)'}: ${first?.message}`);
    }
    return parsed.data;
  });
}

/** Profiles of every actor under the straggler model (the scenario's own when there is none). */
export function straggledProfiles(seed: number, base: Map<string, Profile>, clients: readonly string[], stragglers: Stragglers | undefined): ProfileSource {
  const affected = new Set(stragglers?.clients ?? clients);
  const draw = (kind: string, client: string, dist: Distribution | undefined, roundTag = '') =>
    dist ? sample(dist, Random.stream(seed, `faults/stragglers/${kind}/${client}${roundTag}`)) : 1;
  const fixed = new Map<string, { compute: number; bandwidth: number; latency: number }>();
  const drawn: ProfileSource['drawn'] = [];
  for (const c of clients) {
    if (!stragglers || !affected.has(c)) continue;
    const f = {
      compute: stragglers.perRound ? 1 : draw('compute', c, stragglers.compute),
      bandwidth: draw('bandwidth', c, stragglers.bandwidth),
      latency: draw('latency', c, stragglers.latency),
    };
    fixed.set(c, f);
    drawn.push({ client: c, computeFactor: stragglers.perRound ? 'per-round' : f.compute, bandwidthFactor: f.bandwidth, latencyFactor: f.latency });
  }
  const rowsFor = (client: string, round: number | null) =>
    (stragglers?.trace ?? []).filter((r) => r.client === client && (r.round === undefined || r.round === round));
  const apply = (p: Profile, rows: TraceRow[]): Profile => {
    let out = p;
    // Rows for every round first, then the round's own.
    for (const row of [...rows.filter((r) => r.round === undefined), ...rows.filter((r) => r.round !== undefined)]) {
      out = {
        ...out,
        ...(row.computeFactor !== undefined
          ? { msPerTrainSample: out.msPerTrainSample * row.computeFactor, msPerAlignSample: out.msPerAlignSample * row.computeFactor }
          : {}),
        ...(row.msPerTrainSample !== undefined ? { msPerTrainSample: row.msPerTrainSample } : {}),
        ...(row.bandwidthMbps !== undefined ? { bandwidthMbps: row.bandwidthMbps } : {}),
        ...(row.latencyMs !== undefined ? { latencyMs: row.latencyMs } : {}),
      };
    }
    return out;
  };
  const baseOf = (actor: string): Profile => {
    const p = base.get(actor);
    if (!p) throw new Error(`no profile for actor ${actor}`);
    return p;
  };
  const linked = (actor: string): Profile => {
    const f = fixed.get(actor);
    const b = baseOf(actor);
    return f ? { ...b, bandwidthMbps: b.bandwidthMbps * f.bandwidth, latencyMs: b.latencyMs * f.latency } : b;
  };
  const linkCache = new Map<string, Profile>();
  const computeCache = new Map<string, Profile>();
  return {
    drawn,
    linkProfile(actor) {
      let p = linkCache.get(actor);
      if (!p) {
        p = apply(linked(actor), rowsFor(actor, null));
        linkCache.set(actor, p);
      }
      return p;
    },
    profile(actor, round) {
      if (!stragglers) return baseOf(actor);
      const key = `${actor}/${round}`;
      let p = computeCache.get(key);
      if (!p) {
        const f = fixed.get(actor);
        const b = linked(actor);
        const computeFactor = !f ? 1 : stragglers.perRound ? draw('compute', actor, stragglers.compute, `/${round}`) : f.compute;
        p = apply({ ...b, msPerTrainSample: b.msPerTrainSample * computeFactor, msPerAlignSample: b.msPerAlignSample * computeFactor }, rowsFor(actor, round));
        computeCache.set(key, p);
      }
      return p;
    },
  };
}

/** The scenario with its straggler trace file read into `faults.stragglers.trace`: what the run writes, and replays. */
export function withTraceInlined(scenario: Scenario): Scenario {
  const stragglers = scenario.faults.stragglers;
  if (!stragglers?.traceFile) return scenario;
  const { traceFile, ...rest } = stragglers;
  return { ...scenario, faults: { ...scenario.faults, stragglers: { ...rest, trace: [...rest.trace, ...readTraceFile(traceFile)] } } };
}
