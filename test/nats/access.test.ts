import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, createUser } from '@nats-io/nkeys';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerNatsConfigCommand } from '../../cli/commands/nats-config.js';
import { actorPermissions, buildNatsAccessConfig, credentialLogin, readNatsCredential, writeNatsAccessConfig } from '../../core/nats/access-config.js';
import { type NatsServerHandle, startNatsServer } from '../../core/nats/server-process.js';
import { NatsPermissionError, NatsTransport } from '../../core/transport/nats-transport.js';
import type { TransportMessage } from '../../core/transport/transport.js';
import { captureLog, natsServerAvailable, waitFor } from './helpers.js';

const JS_LOOKUP = ['$JS.API.INFO', '$JS.API.STREAM.INFO.FEDMKT_exp_UPLOADS', '$JS.API.STREAM.CREATE.FEDMKT_exp_UPLOADS'];
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('access configuration', () => {
  it('derives permissions from the subject scheme', () => {
    expect(actorPermissions('exp', 'c1')).toEqual({
      publish: ['fedmkt.exp.*.slm-logits.c1', 'fedmkt.exp.*.adapter.c1', 'fedmkt.exp.*.finish-ack.c1', 'fedmkt.exp.events.c1', ...JS_LOOKUP],
      subscribe: [
        'fedmkt.exp.*.llm-logits',
        'fedmkt.exp.*.round-start',
        'fedmkt.exp.*.adapter-average',
        'fedmkt.exp.*.finish',
        'fedmkt.exp.*.slm-logits.c1',
        'fedmkt.exp.*.adapter.c1',
        'fedmkt.exp.*.finish-ack.c1',
        'fedmkt.exp.events.c1',
        'fedmkt.exp.events.server',
        '_INBOX.c1.>',
      ],
      allowResponses: false,
    });
    expect(actorPermissions('exp', 'observer')).toEqual({ publish: [], subscribe: ['fedmkt.exp.events.*', '_INBOX.observer.>'], allowResponses: false });
    const server = actorPermissions('exp', 'server');
    expect(server.publish).toEqual([
      'fedmkt.exp.*.llm-logits',
      'fedmkt.exp.*.round-start',
      'fedmkt.exp.*.adapter-average',
      'fedmkt.exp.*.finish',
      'fedmkt.exp.events.server',
      ...JS_LOOKUP,
      '$JS.API.STREAM.PURGE.FEDMKT_exp_UPLOADS',
      '$JS.API.CONSUMER.CREATE.FEDMKT_exp_UPLOADS.>',
      '$JS.API.CONSUMER.DURABLE.CREATE.FEDMKT_exp_UPLOADS.>',
      '$JS.API.CONSUMER.INFO.FEDMKT_exp_UPLOADS.>',
      '$JS.API.CONSUMER.MSG.NEXT.FEDMKT_exp_UPLOADS.>',
      '$JS.ACK.FEDMKT_exp_UPLOADS.>',
    ]);
    expect(server.subscribe).toContain('fedmkt.exp.*.slm-logits.*');
    expect(server.subscribe).toContain('fedmkt.exp.*.finish-ack.*');
    expect(server.allowResponses).toBe(true);
  });

  it('rejects ids that are not single subject tokens, duplicates and the reserved server id', () => {
    expect(() => buildNatsAccessConfig({ run: 'exp', clientIds: ['c.1'] })).toThrow(/client id "c.1" must be one subject token/);
    expect(() => buildNatsAccessConfig({ run: 'exp', clientIds: ['c1', 'c1'] })).toThrow(/"c1" appears twice/);
    expect(() => buildNatsAccessConfig({ run: 'exp', clientIds: ['server'] })).toThrow(/reserved for the server/);
    expect(() => buildNatsAccessConfig({ run: 'exp', clientIds: ['observer'] })).toThrow(/reserved for the credential of `fedmkt watch`/);
    expect(() => buildNatsAccessConfig({ run: 'a b', clientIds: ['c1'] })).toThrow(/run name "a b"/);
  });

  it('writes the config and credentials through `fedmkt nats-config`, readable by the owner only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-acl-cli-'));
    try {
      const scenario = join(dir, 'scenario.yaml');
      writeFileSync(
        scenario,
        'name: exp1\nrounds: 1\nserver: { model: llama-tiny }\nclients:\n  - id: c1\n    model: gpt2-tiny\n  - id: c2\n    model: gpt2-tiny\n',
      );
      const program = new Command().exitOverride();
      registerNatsConfigCommand(program);
      const out = join(dir, 'out');
      const printed: string[] = [];
      const log = console.log;
      console.log = (line: string) => printed.push(line);
      try {
        await program.parseAsync(['node', 'fedmkt', 'nats-config', scenario, '--out', out]);
      } finally {
        console.log = log;
      }
      expect(printed.slice(0, 5)).toEqual([
        `nats-server configuration: ${join(out, 'nats-server.conf')}`,
        ...['server', 'c1', 'c2', 'observer'].map((a) => `credential for ${a}: ${join(out, 'credentials', `${a}.json`)}`),
      ]);
      expect(printed[5]).toContain(`npx fedmkt watch ${scenario} --nats URL --creds ${join(out, 'credentials', 'observer.json')}`);
      const config = readFileSync(join(out, 'nats-server.conf'), 'utf8');
      expect(config).toContain('"fedmkt.exp1.*.slm-logits.c2"');
      expect(statSync(join(out, 'nats-server.conf')).mode & 0o777).toBe(0o600);
      const c2 = readNatsCredential(join(out, 'credentials', 'c2.json'));
      expect(c2).toMatchObject({ actor: 'c2', run: 'exp1', inboxPrefix: '_INBOX.c2' });
      expect(statSync(join(out, 'credentials', 'c2.json')).mode & 0o777).toBe(0o600);
      // The server's file names each actor's public key, and holds no secret.
      expect(config).toContain(`nkey: ${JSON.stringify(c2.nkey)}`);
      expect(config.match(/nkey: "U[A-Z2-7]{55}"/g)).toHaveLength(4);
      expect(config).not.toContain(c2.seed);
      expect(config).not.toMatch(/password|"SU/);

      writeFileSync(scenario, 'name: exp1\nrounds: 1\nserver: { model: llama-tiny }\nclients: []\n');
      await expect(program.parseAsync(['node', 'fedmkt', 'nats-config', scenario, '--out', out])).rejects.toThrow(
        /scenario.yaml: 1 problem\n {2}line 4: clients: expected at least one client/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the file and field of an invalid credential', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-acl-cred-'));
    try {
      const file = join(dir, 'c1.json');
      const user = createUser();
      const valid = { actor: 'c1', run: 'exp', nkey: user.getPublicKey(), seed: text(user.getSeed()), inboxPrefix: '_INBOX.c1' };
      const write = (value: unknown) => writeFileSync(file, JSON.stringify(value));
      write({ actor: 'c1' });
      expect(() => readNatsCredential(file)).toThrow(/c1.json is invalid: run: .*; nkey: .*; seed: .*; inboxPrefix/);
      write({ ...valid, seed: 'not a seed' });
      expect(() => readNatsCredential(file)).toThrow(/c1.json is invalid: seed: expected the seed of an NKey user \("SU" and 56 base32 characters\)/);
      // An account's seed is an NKey seed, but not a user's.
      write({ ...valid, seed: text(createAccount().getSeed()) });
      expect(() => readNatsCredential(file)).toThrow(/c1.json is invalid: seed: expected the seed of an NKey user/);
      const flipped = valid.seed[20] === 'A' ? 'B' : 'A';
      write({ ...valid, seed: `${valid.seed.slice(0, 20)}${flipped}${valid.seed.slice(21)}` });
      expect(() => readNatsCredential(file)).toThrow(/c1.json is invalid: seed: not an NKey seed \(nkeys: invalid checksum\)/);
      write({ ...valid, nkey: createUser().getPublicKey() });
      expect(() => readNatsCredential(file)).toThrow(`c1.json is invalid: seed: it is the seed of ${valid.nkey}, not of the nkey`);
      write({ actor: 'c1', run: 'exp', user: 'c1', password: 'secret', inboxPrefix: '_INBOX.c1' });
      expect(() => readNatsCredential(file)).toThrow(/c1.json holds a password: credentials are NKeys now; write them again with `fedmkt nats-config`/);
      write(valid);
      expect(readNatsCredential(file)).toEqual(valid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!natsServerAvailable)('access control on a nats-server', () => {
  const run = 'acl';
  let dir: string;
  let server: NatsServerHandle;
  let files: Record<string, string>;
  const transports: NatsTransport[] = [];
  const as = async (actor: string, logger = captureLog().logger) => {
    const t = await NatsTransport.connect({
      servers: server.url,
      ...credentialLogin(readNatsCredential(files[actor] as string)),
      ackTimeoutMs: 2_000,
      logger,
    });
    transports.push(t);
    return t;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedmkt-acl-'));
    const written = writeNatsAccessConfig({ run, clientIds: ['c1', 'c2'] }, dir);
    files = written.credentialFiles;
    server = await startNatsServer({ configFile: written.configFile });
  });
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets each actor do its part and nothing else', async () => {
    const serverActor = await as('server');
    const c1Log = captureLog();
    const c1 = await as('c1', c1Log.logger);
    const c2 = await as('c2');
    const atServer: TransportMessage[] = [];
    const atC1: TransportMessage[] = [];
    const spied: TransportMessage[] = [];
    serverActor.subscribe(`fedmkt.${run}.*.slm-logits.*`, (m) => atServer.push(m));
    c1.subscribe(`fedmkt.${run}.*.llm-logits`, (m) => atC1.push(m));
    c1.subscribe(`fedmkt.${run}.*.slm-logits.c2`, (m) => spied.push(m));
    await waitFor('the denied subscription', () => c1Log.errors.some((e) => e.includes('denied subscription to "fedmkt.acl.*.slm-logits.c2" for user c1')));

    // own upload: allowed, acknowledged by the server actor
    await c1.publish(`fedmkt.${run}.r1.slm-logits.c1`, new Uint8Array([1]), { sender: 'c1', messageId: 'c1:1' });
    await c2.publish(`fedmkt.${run}.r1.slm-logits.c2`, new Uint8Array([2]), { sender: 'c2', messageId: 'c2:1' });
    expect(atServer.map((m) => m.subject)).toEqual([`fedmkt.${run}.r1.slm-logits.c1`, `fedmkt.${run}.r1.slm-logits.c2`]);

    // posing as c2 or as the server: refused by the server
    await expect(c1.publish(`fedmkt.${run}.r1.slm-logits.c2`, new Uint8Array([3]), { sender: 'c1', messageId: 'c1:2' })).rejects.toThrow(NatsPermissionError);
    await expect(c1.publish(`fedmkt.${run}.r1.llm-logits`, new Uint8Array([4]), { sender: 'c1', messageId: 'c1:3' })).rejects.toThrow(
      'NATS denied publish to "fedmkt.acl.r1.llm-logits" for user c1',
    );

    // the server's broadcast reaches c1
    await serverActor.publish(`fedmkt.${run}.r1.llm-logits`, new Uint8Array([5]), { sender: 'server', messageId: 'server:1' });
    await waitFor('the broadcast', () => atC1.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(spied).toHaveLength(0);
    expect(atServer).toHaveLength(2);
  });

  it("lets the observer read every actor's events and publish nothing", async () => {
    const observer = await as('observer');
    const c1 = await as('c1');
    const heard: TransportMessage[] = [];
    observer.subscribe(`fedmkt.${run}.events.*`, (m) => heard.push(m));
    await new Promise((r) => setTimeout(r, 200)); // the subscription reaches the server
    await c1.publish(`fedmkt.${run}.events.c1`, new Uint8Array([7]), { sender: 'c1', messageId: 'c1:e1' });
    await waitFor('the event at the observer', () => heard.length === 1);
    await expect(observer.publish(`fedmkt.${run}.events.server`, new Uint8Array([8]), { sender: 'observer', messageId: 'o:1' })).rejects.toThrow(
      NatsPermissionError,
    );
    await expect(observer.publish(`fedmkt.${run}.r1.llm-logits`, new Uint8Array([9]), { sender: 'observer', messageId: 'o:2' })).rejects.toThrow(
      NatsPermissionError,
    );
  });

  it('refuses a key the configuration does not list, and a connection without one, naming the user', async () => {
    const stranger = text(createUser().getSeed());
    await expect(NatsTransport.connect({ servers: server.url, user: 'c1', nkeySeed: stranger, logger: captureLog().logger })).rejects.toThrow(
      /could not connect to nats:\/\/127.0.0.1:\d+ as c1: Authorization Violation/,
    );
    await expect(NatsTransport.connect({ servers: server.url, logger: captureLog().logger })).rejects.toThrow(
      /could not connect to nats:\/\/127.0.0.1:\d+ as \(anonymous\): Authorization Violation/,
    );
  });
});

describe.skipIf(!natsServerAvailable)('durable (JetStream) uploads under the generated permissions', () => {
  const run = 'aclj';
  let dir: string;
  let server: NatsServerHandle;
  let files: Record<string, string>;
  const transports: NatsTransport[] = [];
  const as = async (actor: string) => {
    const login = credentialLogin(readNatsCredential(files[actor] as string));
    const t = await NatsTransport.connect({ servers: server.url, ...login, uploadAcks: 'jetstream', run, ackTimeoutMs: 2_000, logger: captureLog().logger });
    transports.push(t);
    return t;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedmkt-acl-js-'));
    const written = writeNatsAccessConfig({ run, clientIds: ['c1', 'c2'] }, dir);
    files = written.credentialFiles;
    server = await startNatsServer({ configFile: written.configFile, jetstream: true });
  });
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets a client store its own uploads in the run's stream and the server consume them, and nothing more", async () => {
    const c1 = await as('c1');
    await c1.publish(`fedmkt.${run}.r1.slm-logits.c1`, new Uint8Array([1, 2]), { sender: 'c1', messageId: 'c1:1' });
    await expect(c1.publish(`fedmkt.${run}.r1.slm-logits.c2`, new Uint8Array([3]), { sender: 'c1', messageId: 'c1:2' })).rejects.toThrow(
      'NATS denied publish to "fedmkt.aclj.r1.slm-logits.c2" for user c1',
    );
    const serverActor = await as('server');
    const got: TransportMessage[] = [];
    serverActor.subscribe(`fedmkt.${run}.*.slm-logits.*`, (m) => got.push(m));
    await serverActor.ready();
    await waitFor('the stored upload', () => got.length === 1);
    expect([...(got[0]?.data ?? [])]).toEqual([1, 2]);
    // The observer has no JetStream access at all.
    await expect(as('observer')).rejects.toThrow(/NATS denied publish to "\$JS\.API\.INFO" for user observer|Permissions Violation/);
  });
});
