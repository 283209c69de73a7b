// `emmctl plan [PATH...]`: what apply would change, as a terraform-like diff or as data.
// Also the shared steps of plan and apply: load the desired state, plan it against the backend,
// print it. Heavy modules (the policy loader, yaml, the backend drivers) load inside actions.
import type { Command } from 'commander';
import type { Backend } from '../../backends/backend.js';
import { ExitCode, ExitWith, UsageError, ValidationFailedError } from '../../errors.js';
import type { ResourceDocument } from '../../model/policy.generated.js';
import type { Plan } from '../../plan/index.js';
import { acceptsOutput, type CliContext } from '../context.js';

export const DEFAULT_POLICY_PATH = 'policies/';

export interface DesiredState {
  /** The documents as written, `${env:…}` references in place: what is compared, applied and saved. */
  documents: ResourceDocument[];
  /** The resolved value of each reference, per `Kind/name` and path: sent with the apply, never printed or saved. */
  secrets: Map<string, Record<string, string>>;
  /** notify-no-channel warnings, held back until the backend says whether it has a channel. */
  notifyWarnings?: import('../../policy/index.js').Problem[];
  /**
   * What Android devices through AMAPI cannot apply (rules android/…): made only once the backend
   * says it has that channel, since the lint costs more than the rest of the load.
   */
  androidWarnings?: () => Promise<import('../../policy/index.js').Problem[]>;
}

/** Prints the held-back notify warnings unless the backend delivers notifications. */
export async function warnNotifyChannel(ctx: CliContext, backend: Backend, desired: DesiredState): Promise<void> {
  if (!desired.notifyWarnings?.length) return;
  const channels = backend.notifyChannels ? await backend.notifyChannels() : 0;
  if (channels > 0) return;
  const { formatProblemsText } = await import('../../policy/index.js');
  ctx.io.stderr.write(formatProblemsText(desired.notifyWarnings, ctx.err));
}

/**
 * The Android warnings, printed (and returned, for -o json) when the backend is a server that
 * manages Android devices through Google: `GET /v1/whoami` lists `android` in `channels`. A server
 * older than the field has no channel. Elsewhere they concern no device and stay unsaid.
 */
export async function warnAndroid(ctx: CliContext, backend: Backend, desired: DesiredState): Promise<import('../../policy/index.js').Problem[]> {
  if (!desired.androidWarnings) return [];
  const whoami = (backend as Partial<{ whoami(): Promise<Record<string, unknown>> }>).whoami;
  if (typeof whoami !== 'function') return [];
  const channels = (await whoami.call(backend)).channels;
  if (!Array.isArray(channels) || !channels.includes('android')) return [];
  const warnings = await desired.androidWarnings();
  if (!warnings.length) return [];
  const { formatProblemsText } = await import('../../policy/index.js');
  ctx.io.stderr.write(formatProblemsText(warnings, ctx.err));
  return warnings;
}

/** What the backend says it cannot carry of the desired documents (e.g. Intune's unmapped fields), as warnings. */
export async function warnBackend(ctx: CliContext, backend: Backend, desired: DesiredState): Promise<void> {
  if (!backend.planWarnings) return;
  for (const line of await backend.planWarnings(desired.documents)) ctx.warn(line);
}

/** Pairs each reference in the written documents with its value in the resolved ones. */
export async function desiredState(raw: ResourceDocument[], resolved: ResourceDocument[], notifyWarnings?: DesiredState['notifyWarnings'], androidWarnings?: DesiredState['androidWarnings']): Promise<DesiredState> {
  const { getPath, secretRefPaths } = await import('../../model/secrets.js');
  const secrets = new Map<string, Record<string, string>>();
  raw.forEach((doc, i) => {
    const refs = secretRefPaths(doc);
    if (refs.length === 0) return;
    secrets.set(`${doc.kind}/${doc.metadata.name}`, Object.fromEntries(refs.map((r) => [r.path, String(getPath(resolved[i], r.path))])));
  });
  return { documents: raw, secrets, ...(notifyWarnings?.length ? { notifyWarnings } : {}), ...(androidWarnings ? { androidWarnings } : {}) };
}

/**
 * Loads, validates and resolves the policy files with the shared loader (src/policy). Invalid
 * files: the problems are printed as `validate` prints them and ValidationFailedError (exit 3)
 * is thrown; an unset secret is one of those problems, at the reference's file:line:col.
 * Warnings (e.g. same-priority conflicts) are printed and do not stop the plan.
 */
export async function loadDesired(ctx: CliContext, paths: string[]): Promise<DesiredState> {
  const { existsSync } = await import('node:fs');
  const absent = paths.filter((p) => p !== '-' && !existsSync(p));
  if (absent.length) {
    throw new UsageError(
      `no such file or directory: ${absent.join(', ')}`,
      paths.length === 1 && paths[0] === DEFAULT_POLICY_PATH ? 'pass the policy files or directories to use, or create policies/ (emmctl init policies)' : 'check the paths',
    );
  }
  const policy = await import('../../policy/index.js');
  const cwd = process.cwd();
  const { openPolicyCache } = await import('../../config/policy-cache.js');
  const cache = openPolicyCache(ctx.io.env, policy.policyCacheSalt());
  const listed = policy.listPolicyFiles(paths, cwd);
  const hashBefore = cache && listed.problems.length === 0 ? cache.contentHash(cwd, listed.files) : undefined;
  if (cache && hashBefore) {
    const hit = cache.get<import('../../policy/index.js').Problem>(cwd, paths, hashBefore);
    if (hit) {
      const raw = hit.documents.map((d) => d.document);
      const documents: ResourceDocument[] = [];
      for (const d of raw) {
        const r = policy.resolveSecrets(d, ctx.io.env);
        if (r.missing.length) break;
        documents.push(r.value);
      }
      // Every secret resolved: the cached load stands. Otherwise the full load says where.
      if (documents.length === raw.length) {
        const [android, rest] = partition(hit.warnings, policy.isAndroidProblem);
        const [notifyWarnings, warnings] = partition(rest, (p) => p.rule === policy.NOTIFY_NO_CHANNEL);
        if (warnings.length) ctx.io.stderr.write(policy.formatProblemsText(warnings, ctx.err));
        // An entry made without the lint: the files are loaded again with it (it needs their
        // positions), and the entry made whole for the next run.
        const lintAgain = async () => {
          const again = await policy.loadPolicySet(paths, { env: ctx.io.env, cwd, android: true });
          if (again.ok && cache.contentHash(cwd, again.files) === hashBefore) {
            cache.set(cwd, paths, hashBefore, { documents: again.documents.map((d) => ({ file: d.file, document: d.document })), warnings: again.warnings, android: true });
          }
          return (again.ok ? again.warnings : again.problems).filter(policy.isAndroidProblem);
        };
        return desiredState(raw, documents, notifyWarnings, hit.android ? async () => android : lintAgain);
      }
    }
  }

  const result = await policy.loadPolicySet(paths, { env: ctx.io.env, resolveSecrets: true, cwd });
  if (!result.ok) {
    ctx.io.stderr.write(policy.formatProblemsText(result.problems, ctx.err));
    const errors = result.problems.filter((p) => p.severity === 'error').length || result.problems.length;
    throw new ValidationFailedError(`${errors} problem${errors === 1 ? '' : 's'} in the policy files; nothing was planned`);
  }
  const [notifyWarnings, warnings] = partition(result.warnings, (p) => p.rule === policy.NOTIFY_NO_CHANNEL);
  if (warnings.length) ctx.io.stderr.write(policy.formatProblemsText(warnings, ctx.err));
  const cached = result.documents.map((d) => ({ file: d.file, document: d.document }));
  // Cached only when no file changed while it was being loaded.
  const unchanged = () => cache !== undefined && hashBefore !== undefined && cache.contentHash(cwd, result.files) === hashBefore;
  if (unchanged()) cache!.set(cwd, paths, hashBefore!, { documents: cached, warnings: result.warnings });
  const android = async () => {
    const found = policy.androidWarnings(result);
    if (unchanged()) cache!.set(cwd, paths, hashBefore!, { documents: cached, warnings: policy.sortProblems([...result.warnings, ...found], result.files), android: true });
    return found;
  };
  return desiredState(result.documents.map((d) => d.document), result.documents.map((d) => d.resolved ?? d.document), notifyWarnings, android);
}

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((i) => !test(i))];
}

export async function computeBackendPlan(backend: Backend, desired: DesiredState, prune: boolean): Promise<Plan> {
  const { computePlan } = await import('../../plan/index.js');
  return computePlan(desired.documents, await backend.listResources(), { prune, secrets: desired.secrets });
}

/** The plan for people (stdout) or as data (-o json|yaml), secrets masked either way. */
export async function printPlan(
  ctx: CliContext,
  format: string | undefined,
  data: { plan: Plan; backend: Backend; prune: boolean; digest: string; notes?: ReadonlyMap<string, string>; warnings?: readonly import('../../policy/index.js').Problem[] },
): Promise<void> {
  const { toSavedPlan } = await import('../../plan/index.js');
  if (format === 'json' || format === 'yaml') {
    // The same document a saved plan holds (fields masked, references kept, no secret values),
    // plus the warnings about the target the policy files are planned for (validate's fields).
    const doc: Record<string, unknown> = { ...toSavedPlan(data.plan, { backend: await data.backend.identity(), prune: data.prune, desiredDigest: data.digest, createdAt: new Date() }) };
    if (data.warnings?.length) doc.warnings = data.warnings.map((p) => ({ file: p.file, line: p.line, column: p.column, path: p.path, message: p.message, rule: p.rule, severity: p.severity }));
    const { renderDocument } = await import('../../output/render.js');
    await renderDocument(doc, format, ctx.io.stdout);
    return;
  }
  const { renderPlan } = await import('../../plan/render.js');
  ctx.print(renderPlan(data.plan, ctx.out, { notes: data.notes }));
  if (data.plan.unmanaged.length > 0) {
    ctx.info(`${data.plan.unmanaged.length} resource${data.plan.unmanaged.length === 1 ? '' : 's'} in ${data.backend.location} ${data.plan.unmanaged.length === 1 ? 'is' : 'are'} not in the policy files and stay${data.plan.unmanaged.length === 1 ? 's' : ''} (--prune would delete ${data.plan.unmanaged.length === 1 ? 'it' : 'them'}): ${data.plan.unmanaged.slice(0, 5).map((r) => `${r.kind}/${r.name}`).join(', ')}${data.plan.unmanaged.length > 5 ? ', …' : ''}`);
  }
}

/**
 * Over a server, the changes this token's role cannot apply: a change whose effect can queue a
 * command needs the role that command needs (src/fleet/change-roles.ts; the server enforces the
 * same rule). Said before apply, so an operator learns it from plan, not from a 403.
 */
export async function roleNotes(ctx: CliContext, backend: Backend, plan: Plan): Promise<Map<string, string>> {
  const notes = new Map<string, string>();
  const whoami = (backend as Partial<{ whoami(): Promise<{ name: string; role: import('../../model/access.js').ApiRole }> }>).whoami;
  if (typeof whoami !== 'function' || !plan.changes.some((c) => c.op !== 'delete')) return notes;
  const me = await whoami.call(backend);
  const { roleNeeds, roleAtLeast } = await import('../../fleet/change-roles.js');
  for (const need of roleNeeds(plan.changes, await backend.listResources())) {
    if (roleAtLeast(me.role, need.role) || notes.has(need.ref)) continue;
    notes.set(need.ref, `needs the ${need.role} role`);
    ctx.warn(`${need.ref} needs the ${need.role} role: ${need.reason}; your token "${me.name}" is ${me.role}, so the server will refuse this apply (403) — ask an admin to apply it`);
  }
  return notes;
}

export function policyPaths(paths: string[]): string[] {
  return paths.length > 0 ? paths : [DEFAULT_POLICY_PATH];
}

/** Writes a file readable only by its owner, through a temp file so a reader never sees half of it. */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const { writeFileAtomic } = await import('../../atomic-file.js');
  try {
    writeFileAtomic(path, text, { mode: 0o600 });
  } catch (error) {
    throw new UsageError(`cannot write ${path}: ${(error as Error).message}`);
  }
}

export function register(program: Command, ctx: CliContext): void {
  const command = program
    .command('plan')
    .description('show what apply would change: the policy files (desired) against the backend (current)')
    .argument('[paths...]', `policy files or directories (default ${DEFAULT_POLICY_PATH})`)
    .option('--prune', 'also plan deletions of resources no file declares')
    .option('--detailed-exitcode', `exit ${ExitCode.OK} when there are no changes, ${ExitCode.CHANGES} when there are`)
    .option('--out <file>', 'save the plan for `emmctl apply --plan FILE` (secrets kept as ${env:…} references)')
    .addHelpText('after', `
Examples:
  emmctl plan                              # policies/ against the current context
  emmctl plan policies/ --prune            # include deletions
  emmctl plan --detailed-exitcode          # CI: exit 0 = in sync, 4 = drift
  emmctl plan --out release.plan && emmctl apply --plan release.plan
  emmctl plan -o json | jq '.summary'

Next: emmctl apply`)
    .action(async (paths: string[], opts: { prune?: boolean; detailedExitcode?: boolean; out?: string }, command: Command) => {
      const globals = ctx.globals(command);
      const desired = await loadDesired(ctx, policyPaths(paths));
      // No store yet: plan against an empty one, as the apply that creates it would; nothing is written.
      const backend = await ctx.backend(command, { ifMissing: 'empty' });
      await warnNotifyChannel(ctx, backend, desired);
      const warnings = await warnAndroid(ctx, backend, desired);
      await warnBackend(ctx, backend, desired);
      const plan = await computeBackendPlan(backend, desired, Boolean(opts.prune));
      const { digestDocuments, hasChanges } = await import('../../plan/index.js');
      const digest = digestDocuments(desired.documents);
      const notes = await roleNotes(ctx, backend, plan);
      await printPlan(ctx, globals.output, { plan, backend, prune: Boolean(opts.prune), digest, notes, warnings });
      if (opts.out) {
        const { toSavedPlan } = await import('../../plan/index.js');
        // Sealed and bound to this backend; secrets only as references and salted digests.
        const saved = toSavedPlan(plan, { backend: await backend.identity(), prune: Boolean(opts.prune), desiredDigest: digest, createdAt: new Date() });
        saved.seal = await backend.sealPlan(saved.digest);
        await writePrivateFile(opts.out, `${JSON.stringify(saved, null, 2)}\n`);
        ctx.info(`Saved the plan to ${opts.out}. Apply exactly these changes with: emmctl apply --plan ${opts.out}`);
      } else if (hasChanges(plan) && globals.output !== 'json' && globals.output !== 'yaml') {
        ctx.info(`Next: emmctl apply${paths.length ? ` ${paths.join(' ')}` : ''}${opts.prune ? ' --prune' : ''}`);
      }
      if (opts.detailedExitcode && hasChanges(plan)) throw new ExitWith(ExitCode.CHANGES);
    });
  // A plan is a tree of changes, not rows: text for people, json or yaml for machines; no csv.
  acceptsOutput(command, ['table', 'json', 'yaml']);
}
