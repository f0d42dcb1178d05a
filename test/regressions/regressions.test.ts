/**
 * Saved runs as regression tests: every folder here holding a scenario.yaml and an
 * events.jsonl (and optionally metrics.jsonl and the schedule.json of a reproducer) is
 * re-executed and must reproduce them line for line, with no invariant violation. To save a
 * chaos run: `npx fedmkt run my-chaos.yaml --out test/regressions/<name>`; a reproducer of
 * `fedmkt explore`, once fixed: `npx fedmkt run DIR/scenario.yaml --schedule DIR/schedule.json
 * --out test/regressions/<name>`; then delete timings.jsonl and state/. See docs/exploring.md.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import type { LearningStack } from '../../actors/federation.js';
import { formatDivergence, replayRunDir } from '../../cli/commands/replay.js';

const here = join('test', 'regressions');
const folders = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, 'scenario.yaml')) && existsSync(join(here, d.name, 'events.jsonl')))
  .map((d) => d.name)
  .sort();

describe('saved runs replay identically', () => {
  let learning: () => Promise<LearningStack>;
  beforeAll(() => {
    learning = () => defaultLearningStack();
  });

  it('has saved runs', () => {
    expect(folders.length).toBeGreaterThan(0);
  });

  it.each(folders)('%s', async (name) => {
    const outcome = await replayRunDir(join(here, name), await learning());
    expect(outcome.divergence ? formatDivergence(outcome.divergence) : null).toBeNull();
    expect(outcome.result.violations).toEqual([]);
  });
});
