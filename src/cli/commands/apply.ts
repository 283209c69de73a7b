// `emmctl apply [PATH...] | apply --plan FILE`: plan, guard, confirm, then one atomic
// applyChanges call. Each update and delete carries the version it was planned against, so a
// backend that changed in between refuses the whole set (stale plan) and nothing is applied.
// The guards (--max-deletes, orphaned devices) are src/fleet/apply-guards.ts.
import type { Command } from 'commander';
import type { AppliedChange, Backend } from '../../backends/backend.js';
import { BackendError, CancelledError, EmmctlError, UsageError } from '../../errors.js';
import type { Plan } from '../../plan/index.js';
import type { CliContext } from '../context.js';
import { computeBackendPlan, DEFAULT_POLICY_PATH, loadDesired, policyPaths, printPlan } from './plan.js';

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

async function printData(ctx: CliContext, format: 'json' | 'yaml', data: unknown): Promise<void> {
  const { renderDocument } = await import('../../output/render.js');
  await renderDocument(data, format, ctx.io.stdout);
}

function describeApplied(a: AppliedChange): string {
  const verb = a.op === 'create' ? '+ created' : a.op === 'update' ? '~ updated' : '- deleted';
  return `${verb} ${a.kind}/${a.name}${a.version !== null ? ` (version ${a.version})` : ''}`;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('apply')
    .description('make the backend match the policy files (shows the plan, asks, applies all or nothing)')
    .argument('[paths...]', `policy files or directories (default ${DEFAULT_POLICY_PATH})`)
    .option('--plan <file>', 'apply a plan saved by `emmctl plan --out FILE` (refused if the backend changed since)')
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
          throw new UsageError(`${opts.plan}: ${(error as Error).message}`, 'make one with `emmctl plan --out FILE`');
        }
        backend = await ctx.backend(command);
        if (saved.backend.kind !== backend.kind || saved.backend.location !== backend.location) {
          throw new UsageError(
            `${opts.plan} was made for ${saved.backend.kind} ${saved.backend.location}, not ${backend.kind} ${backend.location}`,
            'select that backend with --context, or make a new plan for this one',
          );
        }
        // The file keeps ${env:…} references; resolve them now, from this environment.
        const { resolveSecrets, pathString } = await import('../../policy/index.js');
        const missing: string[] = [];
        saved.changes = saved.changes.map((c) => {
          if (!('document' in c)) return c;
          const r = resolveSecrets(c.document, ctx.io.env);
          for (const m of r.missing) missing.push(`${c.kind}/${c.name} ${pathString(m.path)}: environment variable ${m.name} is not set`);
          return { ...c, document: r.value };
        });
        if (missing.length) throw new UsageError(`${opts.plan}: ${missing.join('; ')}`, 'set the variables the policy files reference, then apply again');
        const stale = planModule.staleResources(saved.changes, await backend.listResources());
        if (stale.length) throw staleError(stale);
        plan = saved;
        prune = saved.prune;
        digest = saved.desiredDigest;
      } else {
        const desired = await loadDesired(ctx, policyPaths(paths));
        backend = await ctx.backend(command);
        plan = await computeBackendPlan(backend, desired.documents, prune);
        digest = planModule.digestDocuments(desired.raw);
      }

      if (!planModule.hasChanges(plan)) {
        if (asData) {
          await printData(ctx, globals.output as 'json' | 'yaml', { applied: [], summary: { create: 0, update: 0, delete: 0 } });
        } else ctx.io.stdout.write('No changes. The backend matches the policy files.\n');
        return;
      }
      // The plan goes to stdout for people; with -o json|yaml stdout is kept for the result.
      if (!asData) await printPlan(ctx, undefined, { plan: { unmanaged: [], ...plan }, backend, prune, digest });
      const { checkApplyGuards } = await import('../../fleet/apply-guards.js');
      await checkApplyGuards(backend, plan.changes, { maxDeletes: parseMaxDeletes(opts.maxDeletes), allowOrphanedDevices: opts.allowOrphanedDevices });

      if (opts.dryRun) {
        if (asData) await printPlan(ctx, globals.output, { plan: { unmanaged: [], ...plan }, backend, prune, digest });
        ctx.info('Dry run: nothing was applied.');
        return;
      }
      if (!opts.yes) {
        if (!ctx.canPrompt()) {
          throw new UsageError('apply needs --yes when not run on a terminal; nothing was applied', 'review the plan with `emmctl plan`, then run `emmctl apply --yes`');
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
        applied = await backend.applyChanges(planModule.planToChanges(plan), { prune });
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
        ctx.io.stdout.write(`\n${applied.map(describeApplied).join('\n')}\n`);
        ctx.io.stdout.write(`${ctx.out.bold(`Apply complete: ${count('create')} created, ${count('update')} updated, ${count('delete')} deleted.`)}\n`);
      }
      const profiles = applied.filter((a) => a.kind === 'EnrollmentProfile' && a.op === 'create').map((a) => a.name);
      ctx.info(`Next: emmctl plan${paths.length ? ` ${paths.join(' ')}` : ''} (should report no changes)${profiles.length ? `, emmctl enroll token create --profile ${profiles[0]}` : ', emmctl compliance'}`);
    });
}
