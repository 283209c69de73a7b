// `emmctl validate [PATH...]`: checks policy files against the schema and each other, and
// prints every problem at file:line:col. Exit 0 valid, 3 invalid, 2 bad arguments.
import type { Command } from 'commander';
import { UsageError, ValidationFailedError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { DEFAULT_POLICY_PATH, policyPaths } from './plan.js';

type ValidateFormat = 'text' | 'json' | 'github';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check policy files: YAML, the schema, names, group references, secrets (exit 3 when invalid)')
    .argument('[path...]', 'files or folders (searched recursively for *.yaml, *.yml); - reads stdin', [DEFAULT_POLICY_PATH])
    .option('--env-check', 'also report ${env:NAME} secret references whose variable is unset or empty')
    .option('--strict', 'treat warnings (conflicting policies of equal priority) as errors')
    .option('--notify-channel', 'the target server has a notification channel (emmctl server --notify-webhook): no notify-no-channel warnings')
    .option('--android', 'the target server manages Android devices through Google (emmctl server --android-enterprise): warn of what AMAPI cannot apply (rules android/…)')
    .option('--no-cache', 'parse every file even if it passed unchanged before (cache: EMMCTL_CACHE_DIR, empty to disable)')
    .addHelpText('after', `
Output (-o): text (default; problems on stderr as file:line:col: error: message),
  json (stdout: {valid, summary, problems: [{file, line, column, path, message, rule, severity}]}),
  github (stdout: GitHub Actions annotations, ::error file=…,line=…,col=…::message).

Examples:
  emmctl validate                         # policies/
  emmctl validate policies/ extra.yaml
  cat policy.yaml | emmctl validate -
  emmctl validate -o github --env-check   # in CI
  emmctl validate --android               # also what Android devices through Google cannot apply`)
    .action(async (paths: string[], opts: { envCheck?: boolean; strict?: boolean; notifyChannel?: boolean; android?: boolean; cache: boolean }, command: Command) => {
      const globals = ctx.globals(command);
      const format = validateFormat(globals.output);
      const given = policyPaths(paths);
      if (given.filter((p) => p === '-').length > 1) throw new UsageError('`-` (stdin) may be given once');
      const policy = await import('../../policy/index.js');

      // Paths that do not exist are the caller's mistake (exit 2), not an invalid policy.
      const listed = policy.listPolicyFiles(given);
      const missing = listed.problems.filter((p) => p.rule === 'io/not-found' || p.rule === 'io/no-files' || p.rule === 'io/not-a-file');
      if (missing.length) {
        const m = missing[0]!;
        throw new UsageError(`${m.file}: ${m.message}`, given.length === 1 && given[0] === DEFAULT_POLICY_PATH && paths.length <= 1
          ? 'run `emmctl init` to scaffold a policy repo, or name the files to validate'
          : 'name policy files (*.yaml, *.yml), folders holding them, or - for stdin');
      }
      const stdin = given.includes('-') ? await readAtMost(ctx.io.stdin, policy.DEFAULT_MAX_FILE_BYTES + 1) : undefined;
      const outcome = await validateSet(ctx, policy, given, listed.files, { envCheck: Boolean(opts.envCheck), strict: Boolean(opts.strict), notifyChannel: Boolean(opts.notifyChannel), android: Boolean(opts.android), useCache: opts.cache, stdin });
      const { ok, problems, summary } = outcome;
      const { summaryLine } = await import('../../policy/format.js');
      if (format === 'json') ctx.io.stdout.write(policy.formatProblemsJson(problems, summary));
      else if (format === 'github') {
        ctx.io.stdout.write(policy.formatProblemsGithub(problems));
        ctx.io.stderr.write(`${summaryLine(problems, summary)}\n`);
      } else {
        ctx.io.stderr.write(policy.formatProblemsText(problems, ctx.err));
        if (!ok) ctx.io.stderr.write(`${problems.length ? '\n' : ''}${ctx.err.red(summaryLine(problems, summary))}\n`);
        else ctx.info(`${problems.length ? '\n' : ''}${ctx.err.green('✓')} ${summaryLine(problems, summary)}`);
      }
      // The problems are printed already: nothing more to say, only the exit code.
      if (!ok) throw new ValidationFailedError('');
    });
}

type PolicyModule = typeof import('../../policy/index.js');
type Problem = import('../../policy/index.js').Problem;
interface Outcome {
  ok: boolean;
  problems: Problem[];
  summary: { files: number; documents: number };
}

/**
 * Loads the set, or takes the last clean load of exactly these files with exactly these bytes
 * from the cache (src/config/policy-cache.ts, as plan does): re-validating an unchanged repo
 * skips YAML. Whatever is not certain (stdin, a missing secret) goes through the full load.
 */
async function validateSet(
  ctx: CliContext,
  policy: PolicyModule,
  paths: string[],
  files: string[],
  opts: { envCheck: boolean; strict: boolean; notifyChannel: boolean; android: boolean; useCache: boolean; stdin?: Buffer },
): Promise<Outcome> {
  // The cache keeps every warning; what the target makes moot (or, for Android, what does not
  // concern it: an entry made with the Android lint serves a load without it too) is dropped
  // after, before --strict judges.
  const judge = (ok: boolean, problems: Problem[], summary: Outcome['summary']): Outcome => {
    const shown = problems.filter((p) => !(opts.notifyChannel && p.rule === policy.NOTIFY_NO_CHANNEL) && (opts.android || !policy.isAndroidProblem(p)));
    return { ok: ok && !(opts.strict && shown.some((p) => p.severity === 'warning')), problems: shown, summary };
  };
  const cwd = process.cwd();
  const { openPolicyCache } = await import('../../config/policy-cache.js');
  const cache = opts.useCache ? openPolicyCache(ctx.io.env, policy.policyCacheSalt()) : undefined;
  const hash = cache?.contentHash(cwd, files);
  if (cache && hash) {
    const hit = cache.get<Problem>(cwd, paths, hash);
    const unset = (d: { document: unknown }) => policy.findSecretRefs(d.document).some((r) => !ctx.io.env[r.name]);
    if (hit && (hit.android || !opts.android) && !(opts.envCheck && hit.documents.some(unset))) {
      return judge(true, hit.warnings, { files: files.length, documents: hit.documents.length });
    }
  }
  const result = await policy.loadPolicySet(paths, { env: ctx.io.env, envCheck: opts.envCheck, stdin: opts.stdin, cwd, android: opts.android });
  const problems = result.ok ? result.warnings : result.problems;
  // Cached only when clean (warnings allowed) and no file changed while it was being loaded.
  if (cache && hash && problems.every((p) => p.severity === 'warning') && result.documents.length === result.documentCount && cache.contentHash(cwd, result.files) === hash) {
    cache.set(cwd, paths, hash, { documents: result.documents.map((d) => ({ file: d.file, document: d.document })), warnings: problems, android: opts.android });
  }
  return judge(result.ok, problems, { files: result.files.length, documents: result.documentCount });
}

function validateFormat(output: string | undefined): ValidateFormat {
  if (output === undefined || output === 'text') return 'text';
  if (output === 'json' || output === 'github') return output;
  throw new UsageError(`validate prints text, json or github, not ${output}`, 'use -o text, -o json or -o github');
}

/**
 * Stdin up to `limit` bytes. Reading stops there (an endless or huge pipe is never buffered
 * whole); one byte past the 1 MiB file limit is enough for the loader to report "over 1 MiB"
 * exactly as it does for a file.
 */
async function readAtMost(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(buffer);
    size += buffer.length;
    if (size >= limit) break; // leaving the loop destroys the stream: the writer gets EPIPE
  }
  return Buffer.concat(chunks).subarray(0, limit);
}
