/**
 * A seeded world of invented facts: per domain, a set of entities each with one attribute
 * value (Anna lives in Rome, the owl says quack, ...). Facts are arbitrary, so nothing but
 * training data (or pretraining) can teach them.
 */
import { Random } from '../random.js';
import { BUILTIN_DOMAINS, type BuiltinDomainSpec } from './builtin-vocabulary.js';

export interface BuiltinWorldOptions {
  /** How many of the built-in domains to use, in their listed order (1 to 6; default 6). */
  domains?: number;
  /** Entities per domain that carry task facts (default 16; at most the pool size, 32). */
  entitiesPerDomain?: number;
  /** Attribute values per domain, a seeded subset of the domain's eight (2 to 8; default 4). */
  valuesPerDomain?: number;
}

export interface BuiltinFact {
  domain: string;
  entity: string;
  value: string;
  /** Index of the template whose phrasing of this fact is held out for evaluation. */
  evalTemplate: number;
}

export interface BuiltinWorld {
  domains: readonly BuiltinDomainSpec[];
  /** Per domain, the values this world uses. */
  values: Record<string, string[]>;
  /** Facts grouped by domain, in domain order. */
  facts: BuiltinFact[];
  /** Per domain, the pool entities no task fact uses (free for pretraining filler). */
  spareEntities: Record<string, string[]>;
}

const DEFAULT_ENTITIES_PER_DOMAIN = 16;
const DEFAULT_VALUES_PER_DOMAIN = 4;

function resolveWorldOptions(options: BuiltinWorldOptions): Required<BuiltinWorldOptions> {
  const domains = options.domains ?? BUILTIN_DOMAINS.length;
  const entitiesPerDomain = options.entitiesPerDomain ?? DEFAULT_ENTITIES_PER_DOMAIN;
  const valuesPerDomain = options.valuesPerDomain ?? DEFAULT_VALUES_PER_DOMAIN;
  if (!Number.isInteger(domains) || domains < 1 || domains > BUILTIN_DOMAINS.length) {
    throw new Error(`builtin task: domains must be an integer in [1, ${BUILTIN_DOMAINS.length}], got ${domains}`);
  }
  const poolSize = Math.min(...BUILTIN_DOMAINS.map((d) => d.entities.length));
  if (!Number.isInteger(entitiesPerDomain) || entitiesPerDomain < 1 || entitiesPerDomain > poolSize) {
    throw new Error(`builtin task: entitiesPerDomain must be an integer in [1, ${poolSize}], got ${entitiesPerDomain}`);
  }
  const valueCount = Math.min(...BUILTIN_DOMAINS.map((d) => d.values.length));
  if (!Number.isInteger(valuesPerDomain) || valuesPerDomain < 2 || valuesPerDomain > valueCount) {
    throw new Error(`builtin task: valuesPerDomain must be an integer in [2, ${valueCount}], got ${valuesPerDomain}`);
  }
  return { domains, entitiesPerDomain, valuesPerDomain };
}

/**
 * `count` values where each value occurs floor or ceil of count/|values| times: rounds of
 * shuffled full sets, so no value is a better blind guess than another.
 */
export function balancedValues(values: readonly string[], count: number, rng: Random): string[] {
  const out: string[] = [];
  while (out.length < count) out.push(...rng.shuffle(values));
  return out.slice(0, count);
}

/**
 * The (value, held-out template) cell of fact i: a cyclic Latin design, so that with
 * entitiesPerDomain = values x templates every cell holds exactly one fact. Then each template's
 * training statements carry every value equally often, and a model that learns only which values
 * go with which template scores exactly chance; it must learn the facts. Other sizes stay close
 * to that balance.
 */
function factCell(i: number, values: number, templates: number): { value: number; template: number } {
  return { value: i % values, template: (i + Math.floor(i / values)) % templates };
}

export function builtinWorld(seed: number, options: BuiltinWorldOptions = {}): BuiltinWorld {
  const { domains, entitiesPerDomain, valuesPerDomain } = resolveWorldOptions(options);
  const specs = BUILTIN_DOMAINS.slice(0, domains);
  const facts: BuiltinFact[] = [];
  const values: Record<string, string[]> = {};
  const spareEntities: Record<string, string[]> = {};
  for (const spec of specs) {
    // One stream per domain: changing the number of domains never reshuffles the others.
    const rng = Random.stream(seed, `builtin/world/${spec.name}`);
    const pool = rng.shuffle(spec.entities);
    const entities = pool.slice(0, entitiesPerDomain);
    spareEntities[spec.name] = pool.slice(entitiesPerDomain);
    const domainValues = rng.shuffle(spec.values).slice(0, valuesPerDomain);
    values[spec.name] = domainValues;
    entities.forEach((entity, i) => {
      const cell = factCell(i, domainValues.length, spec.templates.length);
      facts.push({ domain: spec.name, entity, value: domainValues[cell.value] as string, evalTemplate: cell.template });
    });
  }
  return { domains: specs, values, facts, spareEntities };
}

export function domainSpec(world: BuiltinWorld, name: string): BuiltinDomainSpec {
  const spec = world.domains.find((d) => d.name === name);
  if (!spec) throw new Error(`builtin task: unknown domain "${name}"`);
  return spec;
}
