// `emmctl schema`: prints the JSON Schema of the policy language, for editors and other tools.
import type { Command } from 'commander';
import { acceptsOutput, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  const command = program
    .command('schema')
    .description('print the JSON Schema of policy files (draft 2020-12)')
    .addHelpText('after', `
Examples:
  emmctl schema > emmctl.schema.json
  emmctl schema -o yaml
  # then, first line of every document (also after each ---):
  # yaml-language-server: $schema=./emmctl.schema.json`)
    .action(async (_opts: unknown, cmd: Command) => {
      const { schemaText } = await import('../../policy/schema-text.js');
      if (ctx.globals(cmd).output === 'yaml') {
        const { renderDocument } = await import('../../output/render.js');
        await renderDocument(JSON.parse(schemaText()), 'yaml', ctx.io.stdout);
      } else ctx.io.stdout.write(schemaText());
    });
  // A document, not records: json (the default, byte for byte the shipped file) or yaml.
  acceptsOutput(command, ['json', 'yaml']);
}
