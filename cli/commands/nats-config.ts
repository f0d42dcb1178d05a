import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { z } from 'zod';
import { type AccessScenario, writeNatsAccessConfig } from '../../core/nats/access-config.js';

// Only the fields access control needs; the full scenario loader validates the rest.
const scenarioFields = z.object({
  name: z.string().min(1),
  clients: z.array(z.object({ id: z.string().min(1) }).passthrough()).min(1),
});

export function readAccessScenario(file: string): AccessScenario {
  let document: unknown;
  try {
    document = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`scenario ${file}: cannot read YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = scenarioFields.safeParse(document);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`scenario ${file}: ${issues}`);
  }
  return { run: parsed.data.name, clientIds: parsed.data.clients.map((c) => c.id) };
}

export function registerNatsConfigCommand(program: Command): void {
  program
    .command('nats-config')
    .description('write a nats-server configuration with one credential per actor and subject permissions from the subject scheme')
    .argument('<scenario>', 'scenario YAML file (uses its name and clients[*].id)')
    .requiredOption('--out <dir>', 'directory for nats-server.conf and credentials/<actor>.json')
    .action((scenarioFile: string, options: { out: string }) => {
      const scenario = readAccessScenario(scenarioFile);
      const written = writeNatsAccessConfig(scenario, resolve(options.out));
      console.log(`nats-server configuration: ${written.configFile}`);
      for (const [actor, file] of Object.entries(written.credentialFiles)) console.log(`credential for ${actor}: ${file}`);
    });
}
