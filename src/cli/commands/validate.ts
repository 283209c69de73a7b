// `emmctl validate [PATH...]`: checks policy files against the schema and each other, and
// prints every problem at file:line:col. Exit 0 valid, 3 invalid, 2 bad arguments.
import type { Command } from 'commander';
import { UsageError, ValidationFailedError } from '../../errors.js';
import type { CliContext } from '../context.js';

export const DEFAULT_POLICY_DIR = 'policies/';
type ValidateFormat = 'text' | 'json' | 'github';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check policy files: YAML, the schema, names, group references, secrets (exit 3 when invalid)')
    .argument('[path...]', 'files or folders (searched recursively for *.yaml, *.yml); - reads stdin', [DEFAULT_POLICY_DIR])
    .option('--env-check', 'also report ${env:NAME} secret references whose variable is unset or empty')
    .option('--strict', 'treat warnings (conflicting policies of equal priority) as errors')
    .addHelpText('after', `
Output (-o): text (default; problems on stderr as file:line:col: error: message),
  json (stdout: {valid, summary, problems: [{file, line, column, path, message, rule, severity}]}),
  github (stdout: GitHub Actions annotations, ::error file=…,line=…,col=…::message).

Examples:
  emmctl validate                         # policies/
  emmctl validate policies/ extra.yaml
  cat policy.yaml | emmctl validate -
  emmctl validate -o github --env-check   # in CI`)
    .action(async (paths: string[], opts: { envCheck?: boolean; strict?: boolean }, command: Command) => {
      const globals = ctx.globals(command);
      const format = validateFormat(globals.output);
      const given = paths.length ? paths : [DEFAULT_POLICY_DIR];
      if (given.filter((p) => p === '-').length > 1) throw new UsageError('`-` (stdin) may be given once');
      const policy = await import('../../policy/index.js');

      // Paths that do not exist are the caller's mistake (exit 2), not an invalid policy.
      const listed = policy.listPolicyFiles(given);
      const missing = listed.problems.filter((p) => p.rule === 'io/not-found' || p.rule === 'io/no-files' || p.rule === 'io/not-a-file');
      if (missing.length) {
        const m = missing[0]!;
        throw new UsageError(`${m.file}: ${m.message}`, given.length === 1 && given[0] === DEFAULT_POLICY_DIR && paths.length <= 1
          ? 'run `emmctl init` to scaffold a policy repo, or name the files to validate'
          : 'name policy files (*.yaml, *.yml), folders holding them, or - for stdin');
      }
      const stdin = given.includes('-') ? await readAll(ctx.io.stdin) : undefined;
      const result = await policy.loadPolicySet(given, { env: ctx.io.env, envCheck: Boolean(opts.envCheck), strict: Boolean(opts.strict), stdin });
      const problems = result.ok ? result.warnings : result.problems;
      const summary = { files: result.files.length, documents: result.documentCount };
      const { summaryLine } = await import('../../policy/format.js');
      if (format === 'json') ctx.io.stdout.write(policy.formatProblemsJson(problems, summary));
      else if (format === 'github') {
        ctx.io.stdout.write(policy.formatProblemsGithub(problems));
        ctx.io.stderr.write(`${summaryLine(problems, summary)}\n`);
      } else {
        ctx.io.stderr.write(policy.formatProblemsText(problems, ctx.err));
        if (!result.ok) ctx.io.stderr.write(`${problems.length ? '\n' : ''}${ctx.err.red(summaryLine(problems, summary))}\n`);
        else ctx.info(`${problems.length ? '\n' : ''}${ctx.err.green('✓')} ${summaryLine(problems, summary)}`);
      }
      // The problems are printed already: nothing more to say, only the exit code.
      if (!result.ok) throw new ValidationFailedError('');
    });
}

function validateFormat(output: string | undefined): ValidateFormat {
  if (output === undefined || output === 'text') return 'text';
  if (output === 'json' || output === 'github') return output;
  throw new UsageError(`validate prints text, json or github, not ${output}`, 'use -o text, -o json or -o github');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
