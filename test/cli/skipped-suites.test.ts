/**
 * `npm test` on a machine without what some suites need ends with one line per skipped suite,
 * saying why and what to install; the Chromium path comes from FEDMKT_CHROMIUM when set.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { expect, it } from 'vitest';
import { ROOT } from './helpers.js';

it('names each suite skipped for want of something, and what to install', { timeout: 120_000 }, () => {
  const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
  const r = spawnSync(process.execPath, [vitest, 'run', 'test/live/browser.test.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FEDMKT_CHROMIUM: '/nonexistent/chromium' },
  });
  expect(r.status, r.stderr).toBe(0);
  const skipped = r.stdout.split('\n').filter((l) => l.startsWith('skipped: '));
  expect(skipped).toContain(
    "skipped: the browser suite (test/live/browser.test.ts: the live view and report in Chromium): no Chromium at /nonexistent/chromium: install Debian's with `apt-get install chromium` (or `npm run test:all` as root), or point FEDMKT_CHROMIUM at a Chromium or Chrome binary",
  );
  expect(stripVTControlCharacters(r.stdout)).toMatch(/Tests\s+\d+ skipped/);
});
