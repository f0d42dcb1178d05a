/**
 * What some suites need from the machine, and what to do when it is missing: those suites
 * skip, and `npm test` ends with one line per skipped suite (test/global-setup.ts).
 */
import { datasetsAvailable, datasetsRoot, DATASETS_ENV } from '../core/data/datasets-root.js';
import { findNatsServerBinary, isExecutable } from '../core/nats/binary.js';

/** Debian's Chromium, or the browser `FEDMKT_CHROMIUM` names. */
export const CHROMIUM = process.env.FEDMKT_CHROMIUM || '/usr/bin/chromium';

/** Whether the browser suite can run. */
export const hasChromium = isExecutable(CHROMIUM);

export interface SuiteNeed {
  suite: string;
  available: boolean;
  /** Why it is skipped, and what to install. */
  missing: string;
}

export function suiteNeeds(): SuiteNeed[] {
  return [
    {
      suite: 'NATS suites (test/nats, message faults over NATS, killing a --spawn-nats run)',
      available: findNatsServerBinary() !== undefined,
      missing:
        "no nats-server ($NATS_SERVER_BIN, /usr/sbin/nats-server, PATH): install Debian's with `apt-get install nats-server`, or run `npm run test:all` as root, which does",
    },
    {
      suite: 'browser suite (test/live/browser.test.ts: the live view and report in Chromium)',
      available: hasChromium,
      missing: `no Chromium at ${CHROMIUM}: install Debian's with \`apt-get install chromium\` (or \`npm run test:all\` as root), or point FEDMKT_CHROMIUM at a Chromium or Chrome binary`,
    },
    {
      suite: 'real-task suites (task loaders, federation data and experiments on the shared datasets)',
      available: datasetsAvailable(),
      missing: `no shared datasets at ${datasetsRoot()}: set ${DATASETS_ENV} to the folder holding arc_easy/, boolq/, ...`,
    },
  ];
}
