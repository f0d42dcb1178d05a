import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where Debian's `nats-server` package installs the binary (CI installs it with apt). */
const DEBIAN_PATH = '/usr/sbin/nats-server';

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The nats-server binary to run: `$NATS_SERVER_BIN`, then /usr/sbin/nats-server, then
 * `nats-server` on PATH. Undefined when none is executable (tests skip on that).
 */
export function findNatsServerBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates: string[] = [];
  if (env.NATS_SERVER_BIN) candidates.push(env.NATS_SERVER_BIN);
  candidates.push(DEBIAN_PATH);
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir) candidates.push(join(dir, 'nats-server'));
  }
  return candidates.find(isExecutable);
}

export function requireNatsServerBinary(): string {
  const binary = findNatsServerBinary();
  if (!binary) {
    throw new Error(`nats-server not found: set NATS_SERVER_BIN, install it at ${DEBIAN_PATH} (apt-get install nats-server) or put it on PATH`);
  }
  return binary;
}
