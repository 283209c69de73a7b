// `emmctl apply [PATH...] | apply --plan FILE`: plan, guard, confirm, then one atomic
// applyChanges call. Each update and delete carries the version it was planned against, so a
// backend that changed in between refuses the whole set (stale plan) and nothing is applied.
// The guards (--max-deletes, orphaned devices) are src/fleet/apply-guards.ts.
import type { Command } from 'commander';
import type { AppliedChange, Backend } from '../../backends/backend.js';
import { BackendError, CancelledError, EmmctlError, PlanRefusedError, UsageError, ValidationFailedError } from '../../errors.js';
import type { StoredResource } from '../../model/fleet.js';
import type { ResourceDocument } from '../../model/policy.generated.js';
import type { Plan, PlannedChange, SavedPlan } from '../../plan/index.js';
import { acceptsOutput, type CliContext } from '../context.js';
import { computeBackendPlan, DEFAULT_POLICY_PATH, loadDesired, policyPaths, printPlan, roleNotes, warnAndroid, warnBackend, warnNotifyChannel } from './plan.js';

interface ApplyOptions {
  prune?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  maxDeletes: string;
  allowOrphanedDevices?: boolean;
  plan?: string;
}

function parseMaxDeletes(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--max-deletes must be a whole number ≥ 0, got "${value}"`);
  return n;
}

function staleError(problems: string[]): EmmctlError {
  return new EmmctlError(`plan is stale: ${problems.join('; ')}; run emmctl plan again`, {
    hint: 'the backend changed since the plan was made; nothing was applied',
  });
}

const REPLAN_HINT = 'make a new plan with `emmctl plan --out FILE` and apply that; nothing was applied';

/**
 * Everything `apply --plan` checks before it trusts a saved plan, in this order: the seal (an
 * edited plan is refused whatever was edited), the backend identity, the documents (the same
 * validation as `validate`), then each secret against the digest of the value planned with.
 * Returns the changes with secret values attached, ready for the stale check.
 */
async function checkSavedPlan(ctx: CliContext, file: string, saved: SavedPlan, backend: Backend): Promise<PlannedChange[]> {
  const planModule = await import('../../plan/index.js');
  if (planModule.planDigest(saved) !== saved.digest) {
    throw new PlanRefusedError(`${file} was changed after it was made (its digest does not match its content); refusing to apply it`, REPLAN_HINT);
  }
  const here = await backend.identity();
  if (saved.backend.kind !== here.kind || saved.backend.location !== here.location || saved.backend.storeId !== here.storeId) {
    const show = (b: { kind: string; location: string; storeId: string }) => `${b.kind} ${b.location} (store ${b.storeId})`;
    throw new PlanRefusedError(`${file} was made for ${show(saved.backend)}, not for ${show(here)}; refusing to apply it`, 'select that backend with --context or --data-dir, or make a new plan for this one; nothing was applied');
  }
  // Only the store that sealed the plan can make the same seal: a recomputed sha256 does not pass.
  if ((await backend.sealPlan(saved.digest)) !== saved.seal) {
    throw new PlanRefusedError(`${file} does not carry this store's seal: it was edited after it was made; refusing to apply it`, REPLAN_HINT);
  }
  const documents = saved.changes.flatMap((c) => ('document' in c ? [c.document] : []));
  await revalidate(ctx, file, documents, saved.changes, await backend.listResources());

  const { getPath, verifySecretDigest } = await import('../../model/secrets.js');
  const { resolveSecrets, pathString } = await import('../../policy/index.js');
  const missing: string[] = [];
  const changed: string[] = [];
  const changes = saved.changes.map((c): PlannedChange => {
    if (!('document' in c)) return c;
    const r = resolveSecrets(c.document, ctx.io.env);
    for (const m of r.missing) missing.push(`${c.kind}/${c.name} ${pathString(m.path)}: environment variable ${m.name} is not set`);
    const secrets: Record<string, string> = {};
    for (const s of saved.secrets.filter((x) => x.kind === c.kind && x.name === c.name)) {
      const value = getPath(r.value, s.path);
      if (typeof value !== 'string' || value === s.ref) continue;
      if (!verifySecretDigest(value, s.digest)) changed.push(`${s.ref} (${c.kind}/${c.name} ${s.path})`);
      secrets[s.path] = value;
    }
    return { ...c, ...(Object.keys(secrets).length ? { secrets } : {}) };
  });
  if (missing.length) throw new UsageError(`${file}: ${missing.join('; ')}`, 'set the variables the policy files reference, then apply again');
  if (changed.length) {
    throw new PlanRefusedError(`${file}: the value of ${changed.join(', ')} is not the one the plan was made with; refusing to apply it`, 'set the variable to the value planned with, or make a new plan with the current one; nothing was applied');
  }
  return changes;
}

/**
 * The plan's documents go through the same loader and checks as `emmctl validate` (they are fed
 * to it as a YAML stream of one JSON document per line), with the backend's remaining groups
 * after them so references to groups the plan does not touch resolve.
 */
async function revalidate(ctx: CliContext, file: string, documents: ResourceDocument[], changes: PlannedChange[], current: StoredResource[]): Promise<void> {
  const policy = await import('../../policy/index.js');
  const touched = new Set(changes.map((c) => `${c.kind}/${c.name}`));
  const groups = current.filter((r) => r.kind === 'Group' && !touched.has(`Group/${r.name}`)).map((r) => r.document);
  const all = [...documents, ...groups];
  const result = await policy.loadPolicySet(['-'], { stdin: all.map((d) => JSON.stringify(d)).join('\n---\n'), cwd: process.cwd() });
  const docIndex = (line: number) => Math.max(0, Math.floor((line - 1) / 2));
  const ownProblems = (result.ok ? result.warnings : result.problems).filter((p) => docIndex(p.line) < documents.length);
  const located = ownProblems.map((p) => {
    const d = documents[docIndex(p.line)]!;
    return { ...p, file: `${file} (${d.kind}/${d.metadata.name})`, line: 0, column: 0 };
  });
  const errors = located.filter((p) => p.severity === 'error');
  if (!result.ok && errors.length > 0) {
    ctx.io.stderr.write(policy.formatProblemsText(errors, ctx.err));
    throw new ValidationFailedError(`${file} holds ${errors.length} invalid document${errors.length === 1 ? '' : 's'}; nothing was applied`);
  }
}

async function printData(ctx: CliContext, format: 'json' | 'yaml', data: unknown): Promise<void> {
  const { renderDocument } = await import('../../output/render.js');
  await renderDocument(data, format, ctx.io.stdout);
}

function describeApplied(a: AppliedChange): string {
  const verb = a.op === 'create' ? '+ created' : a.op === 'update' ? '~ updated' : '- deleted';
  return `${verb} ${a.kind}/${a.name}${a.version !== null ? ` (version ${a.version})` : ''}`;
}

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('apply')
    .description('make the backend match the policy files (shows the plan, asks, applies all or nothing)')
    .argument('[paths...]', `policy files or directories (default ${DEFAULT_POLICY_PATH})`)
    .option('--plan <file>', 'apply a plan saved by `emmctl plan --out FILE` (refused if edited, made for another store, its secrets changed, or the backend changed since)')
    .option('--prune', 'also delete resources no file declares')
    .option('--dry-run', 'show the plan and stop; change nothing')
    .option('-y, --yes', 'apply without asking (required when not on a terminal)')
    .option('--max-deletes <n>', 'refuse plans that delete more resources than this', '10')
    .option('--allow-orphaned-devices', 'allow deletions that leave enrolled devices without any compliance policy')
    .addHelpText('after', `
Examples:
  emmctl apply                          # policies/, asks before applying
  emmctl apply policies/ --yes          # CI / scripts
  emmctl apply --prune --max-deletes 20 # also delete what the files no longer declare
  emmctl plan --out p.json && emmctl apply --plan p.json --yes

Next: emmctl plan (should report no changes), emmctl enroll token create --profile NAME`)
    .action(async (paths: string[], opts: ApplyOptions, command: Command) => {
      const globals = ctx.globals(command);
      const asData = globals.output === 'json' || globals.output === 'yaml';
      if (opts.plan && paths.length > 0) throw new UsageError('give either policy paths or --plan FILE, not both');
      if (opts.plan && opts.prune) throw new UsageError('--prune is decided when the plan is made: use `emmctl plan --prune --out FILE`');
      parseMaxDeletes(opts.maxDeletes);
      const planModule = await import('../../plan/index.js');

      let plan: Pick<Plan, 'changes' | 'summary'> & Partial<Pick<Plan, 'unmanaged'>>;
      let prune = Boolean(opts.prune);
      let digest: string;
      let backend: Backend;
      if (opts.plan) {
        const { readFileSync } = await import('node:fs');
        let text: string;
        try {
          text = readFileSync(opts.plan, 'utf8');
        } catch (error) {
          throw new UsageError(`cannot read plan file ${opts.plan}: ${(error as Error).message}`);
        }
        let saved;
        try {
          saved = planModule.parseSavedPlan(text);
        } catch (error) {
          if (error instanceof planModule.PlanFormatError) throw new PlanRefusedError(`${opts.plan} ${error.message}`, REPLAN_HINT);
          throw new UsageError(`${opts.plan}: ${(error as Error).message}`, 'make one with `emmctl plan --out FILE`');
        }
        backend = await ctx.backend(command);
        const changes = await checkSavedPlan(ctx, opts.plan, saved, backend);
        const current = await backend.listResources();
        const stale = planModule.staleResources(changes, current);
        if (stale.length) throw staleError(stale);
        // What is shown is diffed afresh from exactly the documents about to be applied.
        const byKey = new Map(current.map((r) => [planModule.key(r.kind, r.name), r]));
        const shown = changes.map((c) => ({ ...c, fields: planModule.changeFields('document' in c ? c.document : undefined, byKey.get(planModule.key(c.kind, c.name)), 'secrets' in c ? c.secrets : undefined) }));
        const count = (op: string) => shown.filter((c) => c.op === op).length;
        plan = { changes: shown, summary: { ...saved.summary, create: count('create'), update: count('update'), delete: count('delete') } };
        prune = saved.prune;
        digest = saved.desiredDigest;
      } else {
        const desired = await loadDesired(ctx, policyPaths(paths));
        // apply is how a new store starts; a dry run only previews one, as plan does.
        backend = await ctx.backend(command, { ifMissing: opts.dryRun ? 'empty' : 'create' });
        await warnNotifyChannel(ctx, backend, desired);
        await warnAndroid(ctx, backend, desired);
        await warnBackend(ctx, backend, desired);
        plan = await computeBackendPlan(backend, desired, prune);
        digest = planModule.digestDocuments(desired.documents);
      }

      if (!planModule.hasChanges(plan)) {
        if (asData) {
          await printData(ctx, globals.output as 'json' | 'yaml', { applied: [], summary: { create: 0, update: 0, delete: 0 } });
        } else ctx.io.stdout.write('No changes. The backend matches the policy files.\n');
        return;
      }
      // The plan goes to stdout for people; with -o json|yaml stdout is kept for the result.
      // Over a server: say before the prompt which changes this token's role cannot apply.
      const notes = await roleNotes(ctx, backend, { unmanaged: [], ...plan });
      if (!asData) await printPlan(ctx, undefined, { plan: { unmanaged: [], ...plan }, backend, prune, digest, notes });
      const { checkApplyGuards } = await import('../../fleet/apply-guards.js');
      await checkApplyGuards(backend, plan.changes, { maxDeletes: parseMaxDeletes(opts.maxDeletes), allowOrphanedDevices: opts.allowOrphanedDevices });

      if (opts.dryRun) {
        if (asData) await printPlan(ctx, globals.output, { plan: { unmanaged: [], ...plan }, backend, prune, digest });
        ctx.info('Dry run: nothing was applied.');
        return;
      }
      if (!opts.yes) {
        if (!ctx.canPrompt()) {
          // The hint repeats what was asked (paths, --prune, --plan FILE), so running it applies the same thing.
          const args = opts.plan ? `--plan ${opts.plan}` : `${paths.length ? `${paths.join(' ')} ` : ''}${prune ? '--prune ' : ''}`.trimEnd();
          throw new UsageError('apply needs --yes when not run on a terminal; nothing was applied', `review the plan with \`emmctl plan${opts.plan ? '' : args ? ` ${args}` : ''}\`, then run \`emmctl apply${args ? ` ${args}` : ''} --yes\``);
        }
        const { confirm } = await import('../../output/prompt.js');
        const ok = await confirm(
          { stdin: ctx.io.stdin, stderr: ctx.io.stderr, canPrompt: true },
          `Apply this plan (${planModule.summaryLine(plan.summary)}) to ${backend.kind} ${backend.location}?`,
          '--yes',
          'apply',
        );
        if (!ok) throw new CancelledError('apply cancelled; nothing was applied');
      }

      let applied: AppliedChange[];
      try {
        // One key per apply, reused by the driver on every retry: a retry of an apply that landed gets its result.
        const { randomUUID } = await import('node:crypto');
        // Drivers that apply change by change (Intune) report each one; shown on a terminal only.
        const onProgress = ctx.io.stderr.isTTY && !globals.quiet ? (line: string) => ctx.info(line) : undefined;
        applied = await backend.applyChanges(planModule.planToChanges(plan), { prune, idempotencyKey: randomUUID(), ...(onProgress ? { onProgress } : {}) });
      } catch (error) {
        if (error instanceof BackendError && error.code === 'conflict') {
          // Someone changed the backend between our read and the write: say which resource.
          const stale = planModule.staleResources(plan.changes, await backend.listResources());
          throw staleError(stale.length ? stale : [error.message]);
        }
        throw error;
      }
      const count = (op: string) => applied.filter((a) => a.op === op).length;
      if (asData) {
        await printData(ctx, globals.output as 'json' | 'yaml', { applied, summary: { create: count('create'), update: count('update'), delete: count('delete') } });
      } else {
        ctx.print(`\n${applied.map(describeApplied).join('\n')}\n`);
        ctx.print(`${ctx.out.bold(`Apply complete: ${count('create')} created, ${count('update')} updated, ${count('delete')} deleted.`)}\n`);
      }
      const profiles = applied.filter((a) => a.kind === 'EnrollmentProfile' && a.op === 'create').map((a) => a.name);
      ctx.info(`Next: emmctl plan${paths.length ? ` ${paths.join(' ')}` : ''} (should report no changes)${profiles.length ? `, emmctl enroll token create --profile ${profiles[0]}` : ', emmctl compliance'}`);
    });
  // The plan as text and the result as a record (json|yaml); no csv or wide form.
  acceptsOutput(cmd, ['table', 'json', 'yaml']);
}
