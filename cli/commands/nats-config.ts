import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { OBSERVER, SERVER_ACTOR, writeNatsAccessConfig } from '../../core/nats/access-config.js';
import { loadScenario } from '../../core/scenario/load.js';

export function registerNatsConfigCommand(program: Command): void {
  program
    .command('nats-config')
    .description('write a nats-server configuration with one credential per actor (and one for `watch`) and subject permissions from the subject scheme')
    .argument('<scenario>', 'scenario YAML file')
    .requiredOption('--out <dir>', 'directory for nats-server.conf and credentials/<actor>.json')
    .action((scenarioFile: string, options: { out: string }) => {
      // This machine runs no actor: the files the scenario names need not be here.
      const scenario = loadScenario(scenarioFile, { filesHere: false });
      const clientIds = scenario.clients.map((c) => c.id);
      const written = writeNatsAccessConfig({ run: scenario.name, clientIds }, resolve(options.out));
      // Paths as the user gave them: under the working folder relative, elsewhere absolute.
      const shown = (file: string) => {
        const rel = relative(process.cwd(), file);
        return rel === '' || rel.startsWith('..') ? file : rel;
      };
      const creds = (actor: string) => shown(written.credentialFiles[actor]!);
      console.log(`nats-server configuration: ${shown(written.configFile)}`);
      for (const actor of Object.keys(written.credentialFiles)) console.log(`credential for ${actor}: ${creds(actor)}`);
      console.log(
        [
          '',
          'Start the server and the processes (each on its own machine if you like; URL is where nats-server listens):',
          `  nats-server -c ${shown(written.configFile)}`,
          `  npx fedmkt serve ${scenarioFile} --nats URL --creds ${creds(SERVER_ACTOR)}`,
          ...clientIds.map((id) => `  npx fedmkt join ${scenarioFile} --client ${id} --nats URL --creds ${creds(id)}`),
          `  npx fedmkt watch ${scenarioFile} --nats URL --creds ${creds(OBSERVER)}    # reads events only`,
        ].join('\n'),
      );
    });
}
