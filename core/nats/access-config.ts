import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { clientInbox, clientSubjects, eventsSubject, serverInbox } from '../protocol/subjects.js';

/** What access control needs to know of a scenario. */
export interface AccessScenario {
  run: string;
  clientIds: string[];
}

export const SERVER_ACTOR = 'server';
/** The credential of `fedmkt watch`: it reads every actor's events and may publish nothing. */
export const OBSERVER = 'observer';

export interface ActorPermissions {
  /** Subjects it may publish to; empty: none. */
  publish: string[];
  subscribe: string[];
  /** May reply once to each request it receives (the server acknowledging uploads). */
  allowResponses: boolean;
}

const credentialSchema = z.object({
  actor: z.string().min(1),
  run: z.string().min(1),
  user: z.string().min(1),
  password: z.string().min(1),
  inboxPrefix: z.string().min(1),
});

/** One actor's login, written to `<out>/credentials/<actor>.json`. */
export type ActorCredential = z.infer<typeof credentialSchema>;

export interface NatsAccessConfig {
  /** nats-server configuration text (an `authorization` block). */
  serverConfig: string;
  credentials: ActorCredential[];
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

export function inboxPrefixOf(actor: string): string {
  return `_INBOX.${actor}`;
}

/**
 * Subject permissions from the subject scheme (core/protocol/subjects.ts): a client publishes
 * only its own uploads and events and subscribes only to broadcasts, its own subjects, the
 * server's events and its own inbox; the server publishes broadcasts and its events, subscribes
 * to every upload and every actor's events, and may answer each upload chunk (the
 * acknowledgement, via allow_responses); the observer only reads events.
 */
export function actorPermissions(run: string, actor: string): ActorPermissions {
  const ownInbox = `${inboxPrefixOf(actor)}.>`;
  if (actor === OBSERVER) return { publish: [], subscribe: [eventsSubject(run, '*'), ownInbox], allowResponses: false };
  if (actor === SERVER_ACTOR) {
    const events = eventsSubject(run, actor);
    return {
      publish: [...clientInbox(run), events],
      // Every actor's events: the coordinator sees who is present and where each one is.
      subscribe: [...serverInbox(run), eventsSubject(run, '*'), ownInbox],
      allowResponses: true,
    };
  }
  const own = [...clientSubjects(run, actor), eventsSubject(run, actor)];
  return {
    publish: own,
    // The server's events: a resumed deployment hears there which round to go on after.
    subscribe: [...clientInbox(run), ...own, eventsSubject(run, SERVER_ACTOR), ownInbox],
    allowResponses: false,
  };
}

function checkScenario(scenario: AccessScenario): void {
  if (!TOKEN.test(scenario.run)) {
    throw new Error(`nats access config: run name "${scenario.run}" must be one subject token of letters, digits, '-' or '_'`);
  }
  const seen = new Set<string>();
  for (const id of scenario.clientIds) {
    if (!TOKEN.test(id)) throw new Error(`nats access config: client id "${id}" must be one subject token of letters, digits, '-' or '_'`);
    if (id === SERVER_ACTOR) throw new Error(`nats access config: client id "${id}" is reserved for the server actor`);
    if (id === OBSERVER) throw new Error(`nats access config: client id "${id}" is reserved for the credential of \`fedmkt watch\``);
    if (seen.has(id)) throw new Error(`nats access config: client id "${id}" appears twice`);
    seen.add(id);
  }
  if (seen.size === 0) throw new Error('nats access config: the scenario has no clients');
}

const quote = (value: string): string => JSON.stringify(value);
const list = (values: string[]): string => `[${values.map(quote).join(', ')}]`;

export interface BuildOptions {
  /** Password generator (default: 24 random bytes, base64url). */
  password?: (actor: string) => string;
}

export function buildNatsAccessConfig(scenario: AccessScenario, options: BuildOptions = {}): NatsAccessConfig {
  checkScenario(scenario);
  const password = options.password ?? (() => randomBytes(24).toString('base64url'));
  const actors = [SERVER_ACTOR, ...scenario.clientIds, OBSERVER];
  const credentials = actors.map((actor) => ({
    actor,
    run: scenario.run,
    user: actor,
    password: password(actor),
    inboxPrefix: inboxPrefixOf(actor),
  }));
  const users = credentials.map((c) => {
    const p = actorPermissions(scenario.run, c.actor);
    return [
      `    {`,
      `      user: ${quote(c.user)}, password: ${quote(c.password)}`,
      `      permissions: {`,
      p.publish.length > 0 ? `        publish: { allow: ${list(p.publish)} }` : '        publish: { deny: [">"] }',
      `        subscribe: { allow: ${list(p.subscribe)} }`,
      ...(p.allowResponses ? ['        allow_responses: true'] : []),
      `      }`,
      `    }`,
    ].join('\n');
  });
  const serverConfig = [
    `# fedmkt access control for run "${scenario.run}", generated by \`fedmkt nats-config\`.`,
    '# Plaintext passwords: keep this file private (mode 0600) or replace them with bcrypt hashes (`nats server passwd`).',
    'authorization {',
    '  users = [',
    users.join('\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
  return { serverConfig, credentials };
}

export interface WrittenAccessConfig {
  configFile: string;
  /** Credential file per actor id. */
  credentialFiles: Record<string, string>;
}

/** Write `<dir>/nats-server.conf` and `<dir>/credentials/<actor>.json`, all readable by the owner only. */
export function writeNatsAccessConfig(scenario: AccessScenario, dir: string, options: BuildOptions = {}): WrittenAccessConfig {
  const config = buildNatsAccessConfig(scenario, options);
  const credentialDir = join(dir, 'credentials');
  mkdirSync(credentialDir, { recursive: true, mode: 0o700 });
  const configFile = join(dir, 'nats-server.conf');
  writeFileSync(configFile, config.serverConfig, { mode: 0o600 });
  const credentialFiles: Record<string, string> = {};
  for (const credential of config.credentials) {
    const file = join(credentialDir, `${credential.actor}.json`);
    writeFileSync(file, `${JSON.stringify(credential, null, 2)}\n`, { mode: 0o600 });
    credentialFiles[credential.actor] = file;
  }
  return { configFile, credentialFiles };
}

export function readNatsCredential(file: string): ActorCredential {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`NATS credential ${file} is not readable JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = credentialSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`NATS credential ${file} is invalid: ${issues}`);
  }
  return parsed.data;
}

/** The connection options of NatsTransport.connect that a credential fills in. */
export function credentialLogin(credential: ActorCredential): { name: string; user: string; pass: string; inboxPrefix: string } {
  return { name: credential.actor, user: credential.user, pass: credential.password, inboxPrefix: credential.inboxPrefix };
}
