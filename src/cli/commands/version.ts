// `emmctl version [-o json|yaml]`: what is running, for bug reports and scripts (kubectl and gh
// have one): emmctl's version, the Node.js runtime, the OS, and the versions of the formats it
// reads and writes (policy apiVersion, store schema). `emmctl --version` stays the bare number.
import type { Command } from 'commander';
import { acceptsOutput, type CliContext } from '../context.js';

export interface VersionInfo {
  version: string;
  node: string;
  platform: string;
  arch: string;
  /** The policy language (`apiVersion` of every document). */
  policyApiVersion: string;
  /** The JSON Schema's $id. */
  schemaId: string;
  /** The newest embedded-store migration this build applies. */
  storeSchemaVersion: number;
}

export function register(program: Command, ctx: CliContext): void {
  const command = program
    .command('version')
    .description('print the emmctl, Node.js, platform, policy language and store schema versions (-o json|yaml for scripts)')
    .addHelpText('after', `
JSON: {version, node, platform, arch, policyApiVersion, schemaId, storeSchemaVersion}.

Examples:
  $ emmctl version
  $ emmctl version -o json | jq -r .version`)
    .action(async (_opts: unknown, cmd: Command) => {
      const { default: schema } = await import('../../../schema/emmctl.schema.json', { with: { type: 'json' } });
      const { MIGRATIONS } = await import('../../store/sqlite/migrations.js');
      const info: VersionInfo = {
        version: typeof EMMCTL_VERSION === 'string' ? EMMCTL_VERSION : '0.0.0-dev',
        node: process.version,
        platform: process.platform,
        arch: process.arch,
        policyApiVersion: (schema.properties.apiVersion as { const: string }).const,
        schemaId: schema.$id,
        storeSchemaVersion: Math.max(...MIGRATIONS.map((m) => m.version)),
      };
      const format = ctx.globals(cmd).output;
      const { renderDocument, formatKeyValues } = await import('../../output/render.js');
      if (format === 'json' || format === 'yaml') return renderDocument(info, format, ctx.io.stdout);
      ctx.print(`emmctl ${info.version}\n${formatKeyValues([
        ['node', info.node],
        ['platform', `${info.platform}-${info.arch}`],
        ['policy apiVersion', info.policyApiVersion],
        ['store schema', info.storeSchemaVersion],
      ], ctx.out, '  ')}`);
    });
  acceptsOutput(command, ['table', 'json', 'yaml']);
}
