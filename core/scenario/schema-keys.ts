/**
 * The field names a schema allows at a path, read from the schema itself, so that "unknown
 * field" can say which known one was meant.
 */
import type { z } from 'zod';

type Def = { type: string; innerType?: Schema; in?: Schema; element?: Schema; options?: Schema[]; shape?: Record<string, Schema> };
type Schema = { _zod: { def: Def } };

/** Past wrappers (default, optional, ...) to the schemas that hold the value. */
function unwrap(schema: Schema): Schema[] {
  const def = schema._zod.def;
  if (def.innerType) return unwrap(def.innerType);
  if (def.type === 'pipe' && def.in) return unwrap(def.in);
  if (def.type === 'union' && def.options) return def.options.flatMap(unwrap);
  return [schema];
}

function child(schema: Schema, key: PropertyKey): Schema[] {
  const def = schema._zod.def;
  if (def.type === 'object' && typeof key === 'string' && def.shape?.[key]) return [def.shape[key]];
  if (def.type === 'array' && typeof key === 'number' && def.element) return [def.element];
  return [];
}

/** Field names of the object schemas at `path` (empty when none is an object). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let nodes = unwrap(schema as unknown as Schema);
  for (const key of path) nodes = nodes.flatMap((n) => child(n, key)).flatMap(unwrap);
  return [...new Set(nodes.flatMap((n) => (n._zod.def.type === 'object' ? Object.keys(n._zod.def.shape ?? {}) : [])))];
}
