/**
 * The protocol's mode (docs/async.md): `sync` is the paper's round, a barrier on every client;
 * `buffered` (FedBuff) distils whenever `bufferSize` uploads are in; `async` (FedAsync) distils
 * on every upload. Both asynchronous modes weight stale teachers and drop the stalest.
 */
import { z } from 'zod';
import type { StalenessWeighting } from '../learning/staleness.js';

const versions = z
  .number({ error: 'expected a whole number of LLM versions (>= 0)' })
  .int('expected a whole number of LLM versions (>= 0)')
  .nonnegative('expected a whole number of LLM versions (>= 0)');

const ProtocolModeSchema = z.enum(['sync', 'buffered', 'async'], { error: 'expected sync, buffered or async' }).default('sync');

/** How much a stale SLM upload still counts, and when it no longer does. */
const StalenessSchema = z
  .object({
    /** constant: w = 1; polynomial: w = (1 + s)^-a; hinge: w = 1 up to b versions, then 1 / (a (s - b) + 1). */
    weighting: z.enum(['constant', 'polynomial', 'hinge'], { error: 'expected constant, polynomial or hinge' }).default('constant'),
    a: z.number({ error: 'expected a number >= 0' }).nonnegative('expected a number >= 0').default(0.5),
    b: versions.default(4),
    /** Uploads more than this many versions behind are dropped. */
    maxStaleness: versions.default(8),
  })
  .strict();

type StalenessConfig = z.infer<typeof StalenessSchema>;

/** The mode-specific fields, as they sit in `protocol`. */
export const AsyncProtocolFields = {
  mode: ProtocolModeSchema,
  /** buffered: uploads per LLM version (default: every client); async: 1. */
  bufferSize: z.number({ error: 'expected a positive integer' }).int('expected a positive integer').positive('expected a positive integer').optional(),
  staleness: StalenessSchema.default(StalenessSchema.parse({})),
  /** buffered and async: the run also ends this many virtual ms after the first version is asked for. */
  timeBudgetMs: z.number({ error: 'expected milliseconds (a number > 0)' }).positive('expected milliseconds (a number > 0)').optional(),
};

interface ModeFields {
  mode: 'sync' | 'buffered' | 'async';
  bufferSize?: number | undefined;
  timeBudgetMs?: number | undefined;
  fedAvg: boolean;
  llmFrozen: boolean;
}

interface IssueSink {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void;
}

/** What the mode fields must agree with: the number of clients and the sync-only features. */
export function checkProtocolMode(protocol: ModeFields, clients: number, ctx: IssueSink): void {
  const at = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: ['protocol', field], message });
  const { mode, bufferSize } = protocol;
  if (mode === 'sync') {
    if (bufferSize !== undefined) at('bufferSize', 'a buffer belongs to mode buffered (or async, a buffer of 1); this protocol is sync');
    if (protocol.timeBudgetMs !== undefined) at('timeBudgetMs', 'a time budget belongs to modes buffered and async; a sync run ends after its rounds');
    return;
  }
  if (mode === 'async' && bufferSize !== undefined && bufferSize !== 1)
    at('bufferSize', `async distils on every upload (a buffer of 1), got ${bufferSize}; use mode buffered`);
  if (mode === 'buffered' && bufferSize !== undefined && bufferSize > clients)
    at('bufferSize', `expected at most the ${clients} clients of the run, got ${bufferSize}: the buffer would never fill`);
  if (protocol.fedAvg) at('fedAvg', `FedAvg of adapters needs the synchronous round (mode sync), not mode ${mode}`);
  if (protocol.llmFrozen) at('llmFrozen', `a frozen LLM (LLM2SLM) has no versions to publish: it needs mode sync, not ${mode}`);
}

/** Uploads the server distils per version in this mode. */
export function bufferSizeOf(protocol: Pick<ModeFields, 'mode' | 'bufferSize'>, clients: number): number {
  if (protocol.mode === 'async') return 1;
  return protocol.bufferSize ?? clients;
}

export function weightingOf(staleness: StalenessConfig): StalenessWeighting {
  switch (staleness.weighting) {
    case 'constant':
      return { kind: 'constant' };
    case 'polynomial':
      return { kind: 'polynomial', a: staleness.a };
    case 'hinge':
      return { kind: 'hinge', a: staleness.a, b: staleness.b };
  }
}
