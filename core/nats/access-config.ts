import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { z } from 'zod';
import { clientInbox, clientSubjects, eventsSubject, serverInbox } from '../protocol/subjects.js';
import { uploadStreamName } from '../transport/nats/subject-rules.js';

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
  /** The public key of the actor's NKey user: what the server configuration lists. */
  nkey: z.string().regex(/^U[A-Z2-7]{55}$/, 'expected the public key of an NKey user ("U" and 55 base32 characters)'),
  /** The private seed that signs the server's nonce: only this actor's process has it. */
  seed: z.string().regex(/^SU[A-Z2-7]{56}$/, 'expected the seed of an NKey user ("SU" and 56 base32 characters)'),
  inboxPrefix: z.string().min(1),
});

/** One actor's login, written to `<out>/credentials/<actor>.json`. */
export type ActorCredential = z.infer<typeof credentialSchema>;

export interface NatsAccessConfig {
  /** nats-server configuration text (an `authorization` block of NKey users: public keys only). */
  serverConfig: string;
  credentials: ActorCredential[];
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

function inboxPrefixOf(actor: string): string {
  return `_INBOX.${actor}`;
}

/**
 * The JetStream API requests of durable uploads (`--uploads jetstream`), limited to the run's
 * upload stream: every uploading actor may look the stream up and create it; the server also
 * empties it (a resumed run), makes its durable consumers, pulls from them and acknowledges
 * what it took.
 */
function jetStreamPermissions(run: string, actor: string): string[] {
  const stream = uploadStreamName(run);
  const common = ['$JS.API.INFO', `$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`];
  if (actor !== SERVER_ACTOR) return common;
  return [
    ...common,
    `$JS.API.STREAM.PURGE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.ACK.${stream}.>`,
  ];
}

/**
 * Subject permissions from the subject scheme (core/protocol/subjects.ts): a client publishes
 * only its own uploads and events and subscribes only to broadcasts, its own subjects, the
 * server's events and its own inbox; the server publishes broadcasts and its events, subscribes
 * to every upload and every actor's events, and may answer each upload chunk (the
 * acknowledgement, via allow_responses); the observer only reads events. Server and clients
 * may also use the run's upload stream (jetStreamPermissions).
 */
export function actorPermissions(run: string, actor: string): ActorPermissions {
  const ownInbox = `${inboxPrefixOf(actor)}.>`;
  if (actor === OBSERVER) return { publish: [], subscribe: [eventsSubject(run, '*'), ownInbox], allowResponses: false };
  if (actor === SERVER_ACTOR) {
    const events = eventsSubject(run, actor);
    return {
      publish: [...clientInbox(run), events, ...jetStreamPermissions(run, actor)],
      // Every actor's events: the coordinator sees who is present and where each one is.
      subscribe: [...serverInbox(run), eventsSubject(run, '*'), ownInbox],
      allowResponses: true,
    };
  }
  const own = [...clientSubjects(run, actor), eventsSubject(run, actor)];
  return {
    publish: [...own, ...jetStreamPermissions(run, actor)],
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

const decoder = new TextDecoder();

/** A fresh NKey user (ed25519) for each actor: the server configuration gets the public keys only. */
export function buildNatsAccessConfig(scenario: AccessScenario): NatsAccessConfig {
  checkScenario(scenario);
  const actors = [SERVER_ACTOR, ...scenario.clientIds, OBSERVER];
  const credentials = actors.map((actor) => {
    const pair = createUser();
    return { actor, run: scenario.run, nkey: pair.getPublicKey(), seed: decoder.decode(pair.getSeed()), inboxPrefix: inboxPrefixOf(actor) };
  });
  const users = credentials.map((c) => {
    const p = actorPermissions(scenario.run, c.actor);
    return [
      `    {`,
      `      # ${c.actor}`,
      `      nkey: ${quote(c.nkey)}`,
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
    '# NKey users: the public keys only. Each actor signs in with its seed from credentials/<actor>.json,',
    "# which only that actor's process should be able to read.",
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
export function writeNatsAccessConfig(scenario: AccessScenario, dir: string): WrittenAccessConfig {
  const config = buildNatsAccessConfig(scenario);
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
  if (typeof value === 'object' && value !== null && 'password' in value && !('seed' in value)) {
    throw new Error(
      `NATS credential ${file} holds a password: credentials are NKeys now; write them again with \`fedmkt nats-config\` (and restart nats-server with its new configuration)`,
    );
  }
  const parsed = credentialSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`NATS credential ${file} is invalid: ${issues}`);
  }
  const credential = parsed.data;
  let publicKey: string;
  try {
    publicKey = fromSeed(new TextEncoder().encode(credential.seed)).getPublicKey();
  } catch (error) {
    throw new Error(`NATS credential ${file} is invalid: seed: not an NKey seed (${error instanceof Error ? error.message : String(error)})`);
  }
  if (publicKey !== credential.nkey) {
    throw new Error(`NATS credential ${file} is invalid: seed: it is the seed of ${publicKey}, not of the nkey ${credential.nkey} the file names`);
  }
  return credential;
}

/** The connection options of NatsTransport.connect that a credential fills in (`user` names it in error messages). */
export function credentialLogin(credential: ActorCredential): { name: string; user: string; nkeySeed: string; inboxPrefix: string } {
  return { name: credential.actor, user: credential.actor, nkeySeed: credential.seed, inboxPrefix: credential.inboxPrefix };
}
