/**
 * The command line as a new user meets it: `--version`, usage errors in one line with a pointer
 * to --help (exit 2), bad scenarios and flags refused before any run folder is made, and
 * `validate` catching what `run` would refuse.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { tinyScenario } from '../federation/tiny-scenario.js';
import { fedmkt, fedmktHere, ROOT } from './helpers.js';

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `fedmkt-cli-${name}-`));
const lines = (text: string) => text.trimEnd().split('\n');

describe('command-line conventions', () => {
  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = fedmkt(['--version']);
    expect([r.status, r.stdout.trim()]).toEqual([0, version]);
  });

  it('a usage error from the installed command is one line and a pointer to --help, exit 2', () => {
    const r = fedmkt(['run', '--bogus']);
    expect([r.status, lines(r.stderr)]).toEqual([2, ["error: unknown option '--bogus'", '(fedmkt run --help shows its usage)']]);
  });

  it('a usage error is one line and a pointer to --help, exit 2', async () => {
    for (const [args, error, pointer] of [
      [['bogus'], "error: unknown command 'bogus'", '(fedmkt --help lists the commands)'],
      [['run', '--bogus'], "error: unknown option '--bogus'", '(fedmkt run --help shows its usage)'],
      [
        ['run', 'scenarios/quickstart.yaml', '--rounds', '0'],
        `error: option '--rounds <n>' argument '0' is invalid. expected a positive integer, got "0"`,
        '(fedmkt run --help shows its usage)',
      ],
      [
        ['run', 'scenarios/quickstart.yaml', '--backend', 'tf'],
        "error: option '--backend <name>' argument 'tf' is invalid. Allowed choices are tensorflow, wasm, cpu.",
        '(fedmkt run --help shows its usage)',
      ],
      [['run'], 'fedmkt run: give a scenario file, or --resume RUN_DIR', '(fedmkt run --help shows its usage)'],
      [
        ['run', '--resume', '/nonexistent/run'],
        'fedmkt run: --resume /nonexistent/run: no scenario.yaml there, so not a run folder',
        '(fedmkt run --help shows its usage)',
      ],
    ] as const) {
      const r = await fedmktHere(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(lines(r.stderr), args.join(' ')).toEqual([error, pointer]);
    }
  });
});

describe('bad input is refused before a run folder exists', () => {
  it('run: an unknown tokenizer, with its line, a did-you-mean, and no folder', async () => {
    const dir = tmp('tok');
    const file = join(dir, 's.yaml');
    writeFileSync(
      file,
      readFileSync(join(ROOT, 'scenarios/nats-small.yaml'), 'utf8').replace(
        '- { id: c2, model: *slm, training: *t }',
        '- { id: c2, model: *slm, training: *t, tokenizer: gpt7 }',
      ),
    );
    const out = join(dir, 'run');
    const r = await fedmktHere(['run', file, '--out', out]);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([
      `${file}: 1 problem`,
      '  line 20: clients[1].tokenizer: unknown tokenizer "gpt7" (known: gpt2, opt, llama2, llama3, qwen3, gemma3; did you mean "gpt2"?)',
    ]);
    expect(existsSync(out)).toBe(false);
    const v = await fedmktHere(['validate', file]);
    expect([v.status, v.stderr]).toEqual([2, r.stderr]);
  });

  it('run --rounds shorter than the fault script: names the faults and the flag that drops them', async () => {
    const out = join(tmp('rounds'), 'run');
    const r = await fedmktHere(['run', 'scenarios/chaos.yaml', '--rounds', '2', '--out', out]);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([
      'scenarios/chaos.yaml: 1 problem',
      '  --rounds 2: rounds: the fault script names later rounds: faults.dropout.script[0] (c4 drops out in round 3); add --drop-late-faults to run without them',
    ]);
    expect(existsSync(out)).toBe(false);
  });

  it('sweep --set with an unknown path names the flag, before any variant runs', async () => {
    const out = join(tmp('sweep'), 'sweep');
    const r = await fedmktHere(['sweep', 'scenarios/nats-small.yaml', '--set', 'protocol.topK=4', '--set', 'faults.dropot.p=0,0.1', '--out', out]);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([
      'scenarios/nats-small.yaml: 1 problem',
      '  --set faults.dropot.p=0: faults.dropot: unknown field (did you mean "dropout"?)',
    ]);
    expect(existsSync(out)).toBe(false);
  });

  it('run --resume and validate: a checkpoint that cannot be read is reported, and the run folder is left as it was', async () => {
    const dir = join(tmp('ckpt'), 'run');
    const scenario = tinyScenario();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'scenario.yaml'), stringify(scenario));
    const events = '{"t":0,"actor":"server","round":0,"kind":"state","state":"evaluateZeroShot"}\n';
    writeFileSync(join(dir, 'events.jsonl'), events);
    for (const actor of ['server', ...scenario.clients.map((c) => c.id)]) {
      const ck = join(dir, 'checkpoints', actor, 'round-1');
      mkdirSync(ck, { recursive: true });
      writeFileSync(join(ck, 'actor.json'), JSON.stringify({ round: 1, at: 0, recorded: 1, local: {} }));
      writeFileSync(join(ck, 'config.json'), actor === 'c2' ? '{"format": "fedmkt-transformer", "vers' : JSON.stringify({ format: 'fedmkt-bigram' }));
      for (const f of ['base.f32', 'adapter.f32']) writeFileSync(join(ck, f), Buffer.alloc(16));
    }
    const r = await fedmktHere(['run', '--resume', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`--resume ${dir}: c2's checkpoint of round 1 \\(.*c2/round-1\\) cannot be read: cannot read .*config.json`));
    expect(readFileSync(join(dir, 'events.jsonl'), 'utf8')).toBe(events);
    const v = await fedmktHere(['validate', dir]);
    expect(v.status).toBe(2);
    expect(v.stderr).toMatch(/^.*run: 1 problem\n {2}checkpoints: c2's checkpoint of round 1 .* cannot be read/);
  });
});
