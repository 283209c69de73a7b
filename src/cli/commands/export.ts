// `emmctl export [--dir DIR]`: the backend's current resources as policy files, so an existing
// backend can be adopted as code. An immediate `plan DIR` reports no changes (secrets aside:
// they are written as ${env:…} references, never as values, and must be set to plan).
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { StoredResource } from '../../model/fleet.js';
import type { ResourceDocument, ResourceKind } from '../../model/policy.generated.js';
import { acceptsOutput, type CliContext } from '../context.js';

const SCHEMA_FILE = 'emmctl.schema.json';

const FILE_FOR_KIND: Record<ResourceKind, string> = {
  Group: 'groups.yaml',
  EnrollmentProfile: 'enrollment-profiles.yaml',
  Policy: 'policies.yaml',
  CompliancePolicy: 'compliance-policies.yaml',
};

/**
 * A document in the conventional key order. The backend keeps each secret as the reference it was
 * applied from, written back as is; only a store from before references were kept has
 * `(sensitive)` there, and gets a reference named after where it sits.
 */
function exportDocument(r: StoredResource, secretNames: Array<{ ref: string; env: string }>, secretEnvName: (k: string, n: string, p: string) => string, sensitiveLeaves: (v: unknown) => Array<{ path: string; value: unknown }>): ResourceDocument {
  const doc = structuredClone(r.document) as unknown as Record<string, unknown>;
  for (const leaf of sensitiveLeaves(doc)) {
    if (typeof leaf.value === 'string' && /^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$/.test(leaf.value)) continue;
    const env = secretEnvName(r.kind, r.name, leaf.path);
    setPath(doc, leaf.path, `\${env:${env}}`);
    secretNames.push({ ref: `${r.kind}/${r.name} ${leaf.path}`, env });
  }
  const { apiVersion, kind, metadata, spec, ...rest } = doc;
  return { apiVersion, kind, metadata, spec, ...rest } as unknown as ResourceDocument;
}

function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.match(/[^.[\]]+/g) ?? [];
  let node: Record<string, unknown> = root;
  for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
  node[parts[parts.length - 1]!] = value;
}

/** Lists what `--adopt` would take over, asks (or needs --yes), then takes it over. */
async function adopt(ctx: CliContext, backend: import('../../backends/backend.js').Backend, yes: boolean): Promise<void> {
  if (!backend.adopt) throw new UsageError(`--adopt is for backends holding objects emmctl did not make (an intune context); ${backend.kind} ${backend.location} holds only emmctl's own resources`);
  const preview = await backend.adopt({ apply: false });
  for (const s of preview.skipped) ctx.warn(`not adopted: ${s.what}: ${s.why}`);
  if (preview.adopted.length === 0) {
    ctx.info('Nothing to adopt: every object emmctl can express is already its own.');
    return;
  }
  ctx.info(`Adopting ${preview.adopted.length} object${preview.adopted.length === 1 ? '' : 's'} (renamed emmctl:<name>, marked in the description; settings unchanged):`);
  for (const a of preview.adopted) ctx.info(`  ${a.kind}/${a.name}  ← "${a.from}"`);
  if (!yes) {
    if (!ctx.canPrompt()) throw new UsageError('export --adopt renames objects in the backend and needs --yes when not run on a terminal; nothing was adopted or written', 'review the list above, then run it again with --yes');
    const { confirm } = await import('../../output/prompt.js');
    const ok = await confirm({ stdin: ctx.io.stdin, stderr: ctx.io.stderr, canPrompt: true }, `Take these over in ${backend.kind} ${backend.location}?`, '--yes', 'adopt');
    const { CancelledError } = await import('../../errors.js');
    if (!ok) throw new CancelledError('export --adopt cancelled; nothing was adopted or written');
  }
  const done = await backend.adopt({ apply: true });
  ctx.info(`Adopted ${done.adopted.length} object${done.adopted.length === 1 ? '' : 's'}.`);
}

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('export')
    .description("write the backend's current resources as policy files (adopt an existing backend as code)")
    .option('--dir <dir>', 'write one file per kind into DIR, and the schema when none is near (default: a multi-document YAML stream on stdout)')
    .option('--force', 'overwrite files that already exist in DIR')
    .option('--adopt', 'intune: also take over objects emmctl did not make but can express (renamed emmctl:… and marked; asks first)')
    .option('-y, --yes', 'with --adopt: take them over without asking (required when not on a terminal)')
    .addHelpText('after', `
Examples:
  emmctl export --dir policies/       # groups.yaml, policies.yaml, ...
  emmctl export > fleet.yaml
  emmctl --context prod export --dir prod-policies/ && emmctl --context prod plan prod-policies/
  emmctl --context corp export --adopt --dir policies/   # Intune: bring existing groups and policies under the files

Secret fields (Wi-Fi passwords) are written as \${env:NAME} references; set them before planning.
Next: emmctl validate DIR && emmctl plan DIR   # should report no changes`)
    .action(async (opts: { dir?: string; force?: boolean; adopt?: boolean; yes?: boolean }, command: Command) => {
      if (opts.yes && !opts.adopt) throw new UsageError('--yes goes with --adopt');
      const backend = await ctx.backend(command);
      if (opts.adopt) await adopt(ctx, backend, Boolean(opts.yes));
      const resources = await backend.listResources();
      const { KIND_ORDER, sensitiveLeaves } = await import('../../plan/index.js');
      const { secretEnvName } = await import('../../plan/secrets.js');
      const { stringify } = await (await import('../../policy/yaml-source.js')).loadYaml();
      const secrets: Array<{ ref: string; env: string }> = [];
      const byKind = new Map<ResourceKind, ResourceDocument[]>();
      const sorted = [...resources].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name));
      for (const r of sorted) {
        const list = byKind.get(r.kind) ?? [];
        list.push(exportDocument(r, secrets, secretEnvName, sensitiveLeaves));
        byKind.set(r.kind, list);
      }
      const { dirname, join, relative, resolve } = await import('node:path');
      const { existsSync } = await import('node:fs');
      const { schemaText } = await import('../../policy/schema-text.js');
      const schema = schemaText();
      const schemaUrl = (JSON.parse(schema) as { $id: string }).$id;
      // A repo made by `emmctl init` keeps its own copy of the schema: use the nearest one, up to
      // the repository root (a folder holding .git). Never the install folder: the path would
      // break on another machine or after an upgrade.
      const nearestSchema = (dir: string): string | undefined => {
        for (let d = resolve(dir), i = 0; i < 4; i++, d = dirname(d)) {
          if (existsSync(join(d, SCHEMA_FILE))) return join(d, SCHEMA_FILE);
          if (existsSync(join(d, '.git')) || dirname(d) === d) break;
        }
        return undefined;
      };
      // yaml-language-server checks only the document that carries the modeline: every document gets one.
      const stream = (docs: ResourceDocument[], target: string) => {
        const line = `# yaml-language-server: $schema=${target}\n`;
        return docs.map((d) => `${line}${stringify(d, { lineWidth: 0 })}`).join('---\n');
      };

      if (!opts.dir) {
        // Where stdout lands is unknown, so no relative path can be right: the published schema.
        if (resources.length === 0) ctx.warn(`${backend.location} has no resources to export`);
        else ctx.io.stdout.write(stream(KIND_ORDER.flatMap((k) => byKind.get(k) ?? []), schemaUrl));
      } else if (resources.length === 0) {
        ctx.warn(`${backend.location} has no resources; nothing was written`);
      } else {
        const { checkInside, writeFilesAtomic } = await import('../../atomic-file.js');
        const { makeDirs } = await import('../../make-dirs.js');
        const files = KIND_ORDER.filter((k) => byKind.has(k)).map((k) => ({ kind: k, path: join(opts.dir!, FILE_FOR_KIND[k]) }));
        // A link at a target name (dangling or not) is refused even with --force: never write outside DIR.
        const clashes = files.filter((f) => checkInside(opts.dir!, f.path)).map((f) => f.path);
        if (clashes.length && !opts.force) {
          throw new UsageError(`refusing to overwrite ${clashes.join(', ')}; nothing was written`, 'choose another --dir, or pass --force to overwrite');
        }
        const found = nearestSchema(opts.dir);
        const schemaFile = found ?? join(opts.dir, SCHEMA_FILE);
        if (!found) checkInside(opts.dir, schemaFile);
        const rel = relative(resolve(opts.dir), resolve(schemaFile)).split('\\').join('/');
        const target = rel.startsWith('.') ? rel : `./${rel}`;
        makeDirs(opts.dir);
        for (const f of files) checkInside(opts.dir, f.path);
        const writes = files.map((f) => ({ path: f.path, data: stream(byKind.get(f.kind)!, target) }));
        // No schema near DIR: write the one this emmctl validates with beside the files.
        if (!found) writes.push({ path: schemaFile, data: schema });
        // Every file to a temp name first, then renamed: a failure leaves no half-exported dir.
        try {
          writeFilesAtomic(writes);
        } catch (error) {
          throw new UsageError(`cannot write to ${opts.dir}: ${(error as Error).message}`);
        }
        ctx.info(`Exported ${resources.length} resource${resources.length === 1 ? '' : 's'} to ${writes.map((f) => f.path).join(', ')}.`);
      }
      if (secrets.length) {
        ctx.warn(`${secrets.length} secret field${secrets.length === 1 ? ' was' : 's were'} written as \${env:…} references; set ${secrets.map((s) => s.env).join(', ')} before planning`);
      }
      if (opts.dir && resources.length) ctx.info(`Next: emmctl validate ${opts.dir} && emmctl plan ${opts.dir}   # should report no changes`);
    });
  // Policy files are YAML, whatever -o says elsewhere.
  acceptsOutput(cmd, ['yaml']);
}
