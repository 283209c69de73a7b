// `emmctl init [DIR]`: scaffolds a policy-as-code repo that validates as is: one example of
// every kind in policies/ (where validate, plan and apply look by default), the editor modeline
// on every document pointing at a local copy of the schema, and a CI workflow.
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { acceptsOutput, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('scaffold a policy repo: example Group, Policy, CompliancePolicy, EnrollmentProfile, schema, CI workflow')
    .argument('[dir]', 'where to create it', '.')
    .option('--force', 'overwrite files that already exist')
    .addHelpText('after', `
Creates in DIR:
  emmctl.schema.json                     the schema, for editors (yaml-language-server modeline)
  policies/  groups.yaml  policies.yaml  compliance.yaml  enrollment.yaml
  .github/workflows/validate-policies.yml   runs \`emmctl validate\` on every push and pull request
Existing files are left alone (and nothing is written) unless --force is given.
policies/ is where validate, plan and apply look when given no path. GitHub reads workflows only
from .github/ at the repository root: inside a larger repository, move the workflow there.

Next:  emmctl validate DIR/policies   (in DIR: emmctl validate)`)
    .action(async (dir: string, opts: { force?: boolean }) => {
      const { existsSync, statSync } = await import('node:fs');
      const { makeDirs } = await import('../../make-dirs.js');
      const { checkInside, writeFilesAtomic } = await import('../../atomic-file.js');
      const { dirname, join, resolve } = await import('node:path');
      const { SCAFFOLD_POLICY_DIR, SCAFFOLD_WORKFLOW, scaffoldFiles } = await import('../../policy/scaffold.js');
      if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`${dir} exists and is not a folder`);
      const version = typeof EMMCTL_VERSION === 'string' ? EMMCTL_VERSION : '0.0.0-dev';
      const files = scaffoldFiles(version);
      // A link planted at a file name or at .github/ would carry the write outside DIR: refused, even with --force.
      const clashes = files.filter((f) => checkInside(dir, join(dir, f.path)));
      if (clashes.length && !opts.force) {
        throw new UsageError(`${clashes.length === files.length ? 'all' : clashes.length} of the files to create already exist in ${dir}: ${clashes.map((f) => f.path).join(', ')}; nothing was written`, 'pass --force to overwrite them, or choose another folder');
      }
      for (const f of files) makeDirs(dirname(join(dir, f.path)));
      for (const f of files) checkInside(dir, join(dir, f.path));
      // All files or none, each whole: an interrupted init never leaves half a scaffold.
      writeFilesAtomic(files.map((f) => ({ path: join(dir, f.path), data: f.content })));
      for (const f of files) ctx.info(`${clashes.includes(f) ? 'overwrote' : 'created'} ${join(dir, f.path)}`);
      const here = dir === '.' || resolve(dir) === process.cwd();
      ctx.info(`\n${join(dir, SCAFFOLD_WORKFLOW)}: GitHub runs it only if ${dir === '.' ? 'this folder' : dir} is the repository root; inside a larger repository GitHub ignores ${join(dir, '.github')}/, so move the workflow to the root's .github/workflows/ and set its working-directory.`);
      ctx.info(`It installs exactly emmctl ${version} from EMMCTL_PACKAGE (emmctl is not on the npm registry): commit the package or point EMMCTL_PACKAGE at yours.`);
      ctx.info(`\nNext: edit the files in ${join(dir, SCAFFOLD_POLICY_DIR)}/, then run  emmctl validate${here ? '' : ` ${join(dir, SCAFFOLD_POLICY_DIR)}`}`);
    });
  acceptsOutput(program.commands.find((c) => c.name() === 'init')!, []);
}
