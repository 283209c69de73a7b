// `emmctl schema`: prints the JSON Schema of the policy language, for editors and other tools.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('schema')
    .description('print the JSON Schema of policy files (draft 2020-12)')
    .addHelpText('after', `
Examples:
  emmctl schema > emmctl.schema.json
  # then, first line of every document (also after each ---):
  # yaml-language-server: $schema=./emmctl.schema.json`)
    .action(async () => {
      const { schemaText } = await import('../../policy/schema-text.js');
      ctx.io.stdout.write(schemaText());
    });
}
