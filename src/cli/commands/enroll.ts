// `emmctl enroll token create|list|revoke` and `emmctl enroll import FILE.csv`.
//
// Enrollment URL printed with a new token (what a device agent, an onboarding app or a QR code
// carries): against a server, `<server>/v1/agent/enroll?token=<secret>` (the agent POSTs the
// token there); on the embedded store, which has no network endpoint, `emmctl://enroll?token=<secret>`
// (`emmctl simulate` and local agents take the secret itself).
import { Command } from 'commander';
import type { PreregisteredDevice } from '../../backends/backend.js';
import type { EnrollmentToken } from '../../model/fleet.js';
import type { Ownership, Platform } from '../../model/policy.generated.js';
import type { Column } from '../../output/render.js';
import type { CliContext } from '../context.js';
import { outputFormat, positiveInt } from './devices.js';

export const PLATFORMS: readonly Platform[] = ['android', 'ios', 'ipados', 'macos', 'windows'];
export const OWNERSHIPS: readonly Ownership[] = ['corporate', 'personal'];
const IMPORT_COLUMNS = ['serial', 'platform', 'owner', 'ownership', 'name', 'labels'] as const;

export function enrollmentUrl(backend: { kind: string; location: string }, secret: string): string {
  const token = encodeURIComponent(secret);
  if (backend.kind === 'http') return `${backend.location.replace(/\/+$/, '')}/v1/agent/enroll?token=${token}`;
  return `emmctl://enroll?token=${token}`;
}

export function tokenState(t: EnrollmentToken, now: Date): 'active' | 'revoked' | 'expired' | 'used-up' {
  if (t.revoked) return 'revoked';
  if (Date.parse(t.expiresAt) <= now.getTime()) return 'expired';
  if (t.maxUses !== undefined && t.maxUses !== null && t.uses >= t.maxUses) return 'used-up';
  return 'active';
}

function tokenColumns(now: Date): Column<EnrollmentToken>[] {
  return [
    { header: 'ID', value: (t) => t.id },
    { header: 'PROFILE', value: (t) => t.profile },
    { header: 'STATE', value: (t) => tokenState(t, now), color: (s, c, t) => (tokenState(t, now) === 'active' ? c.green(s) : c.dim(s)) },
    { header: 'USES', value: (t) => (t.maxUses ? `${t.uses}/${t.maxUses}` : String(t.uses)) },
    { header: 'EXPIRES', value: (t) => t.expiresAt, time: true },
    { header: 'CREATED', value: (t) => t.createdAt, time: true },
    { header: 'CREATED BY', value: (t) => t.createdBy, wide: true },
  ];
}

/** Validates an import file's rows. Every problem is `FILE:LINE: message`; valid rows are returned either way. */
export async function parseImport(text: string, file: string): Promise<{ devices: Array<PreregisteredDevice & { line: number }>; errors: string[] }> {
  const { parseCsv, CsvSyntaxError } = await import('../../output/csv.js');
  const errors: string[] = [];
  const devices: Array<PreregisteredDevice & { line: number }> = [];
  let rows;
  try {
    rows = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) return { devices, errors: [`${file}:${error.line}: ${error.message}`] };
    throw error;
  }
  if (rows.length === 0) return { devices, errors: [`${file}:1: empty file; expected a header row: ${IMPORT_COLUMNS.join(',')}`] };
  const [header, ...body] = rows as [(typeof rows)[0], ...typeof rows];
  const names = header.fields.map((f) => f.trim().toLowerCase());
  for (const name of names) {
    if (!(IMPORT_COLUMNS as readonly string[]).includes(name)) errors.push(`${file}:${header.line}: unknown column "${name}" (columns: ${IMPORT_COLUMNS.join(', ')})`);
  }
  for (const required of ['serial', 'platform']) {
    if (!names.includes(required)) errors.push(`${file}:${header.line}: missing required column "${required}"`);
  }
  if (errors.length) return { devices, errors };
  const seen = new Map<string, number>();
  for (const row of body) {
    const at = `${file}:${row.line}:`;
    if (row.fields.length !== names.length) {
      errors.push(`${at} ${row.fields.length} fields, the header has ${names.length}`);
      continue;
    }
    const get = (col: string) => {
      const i = names.indexOf(col);
      return i < 0 ? '' : row.fields[i]!.trim();
    };
    const rowErrors: string[] = [];
    const serial = get('serial');
    const platform = get('platform').toLowerCase();
    const ownership = get('ownership').toLowerCase();
    if (!serial) rowErrors.push('serial is empty');
    else if (seen.has(serial)) rowErrors.push(`serial "${serial}" repeats line ${seen.get(serial)}`);
    if (!(PLATFORMS as readonly string[]).includes(platform)) rowErrors.push(`platform "${get('platform')}" is not one of ${PLATFORMS.join(', ')}`);
    if (ownership && !(OWNERSHIPS as readonly string[]).includes(ownership)) rowErrors.push(`ownership "${get('ownership')}" is not one of ${OWNERSHIPS.join(', ')}`);
    const labels: Record<string, string> = {};
    const labelText = get('labels');
    if (labelText) {
      for (const pair of labelText.split(';').map((p) => p.trim()).filter(Boolean)) {
        const eq = pair.indexOf('=');
        const key = eq < 0 ? '' : pair.slice(0, eq).trim();
        if (eq < 0 || !/^[A-Za-z0-9][A-Za-z0-9_.\/-]*$/.test(key)) rowErrors.push(`label "${pair}" is not KEY=VALUE (labels are k=v;k2=v2)`);
        else labels[key] = pair.slice(eq + 1).trim();
      }
    }
    if (serial && !seen.has(serial)) seen.set(serial, row.line);
    if (rowErrors.length) {
      for (const message of rowErrors) errors.push(`${at} ${message}`);
      continue;
    }
    devices.push({
      line: row.line,
      serial,
      platform: platform as Platform,
      ownership: (ownership || undefined) as Ownership | undefined,
      owner: get('owner') || undefined,
      name: get('name') || undefined,
      labels,
    });
  }
  return { devices, errors };
}

export function register(program: Command, ctx: CliContext): void {
  const enroll = program
    .command('enroll')
    .description('enrollment tokens and device pre-registration')
    .addHelpText('after', `
Examples:
  $ emmctl enroll token create --profile corp-android --expires 7d --max-uses 50
  $ emmctl enroll token list
  $ emmctl enroll import devices.csv

Next: hand the token to devices (or try \`emmctl simulate --devices 20 --once\`), then \`emmctl devices list\`.`);

  const token = enroll
    .command('token')
    .description('create, list and revoke enrollment tokens')
    .addHelpText('after', `
Examples:
  $ emmctl enroll token create --profile corp-android --qr
  $ emmctl enroll token revoke tok_0001`);

  token
    .command('create')
    .description('create an enrollment token for a profile; prints the secret (once) and the enrollment URL')
    .requiredOption('--profile <name>', 'EnrollmentProfile the devices enroll with (declared in your policy files)')
    .option('--expires <duration>', 'valid for this long: 30m, 12h, 7d, 2w', '7d')
    .option('--max-uses <n>', 'at most N devices may enroll with it', positiveInt('--max-uses'))
    .option('--qr', 'also draw the enrollment URL as a QR code (on a terminal, on stderr)')
    .addHelpText('after', `
The secret is printed once (stdout) and stored only as a hash: keep it now.
Enrollment URL: <server>/v1/agent/enroll?token=SECRET against a server; emmctl://enroll?token=SECRET
on the embedded store. -o json prints {id, profile, createdAt, expiresAt, maxUses, uses, revoked,
createdBy, secret, enrollmentUrl}.

Examples:
  $ emmctl enroll token create --profile corp-android
  $ emmctl enroll token create --profile byod-ios --expires 2w --max-uses 100 --qr
  $ SECRET=$(emmctl enroll token create --profile corp-android -o json | jq -r .secret)

Next: \`emmctl enroll token list\`; revoke a leaked token with \`emmctl enroll token revoke ID\`.`)
    .action(async (opts: { profile: string; expires: string; maxUses?: number; qr?: boolean }, command: Command) => {
      const { parseDuration } = await import('../../output/time.js');
      const expiresInSeconds = parseDuration(opts.expires, '--expires');
      const backend = await ctx.backend(command);
      const created = await backend.createEnrollmentToken({ profile: opts.profile, expiresInSeconds, maxUses: opts.maxUses });
      const url = enrollmentUrl(backend, created.secret);
      const record = { ...created.token, secret: created.secret, enrollmentUrl: url };
      const format = outputFormat(ctx, command);
      const { renderDocument, formatKeyValues, renderRecords} = await import('../../output/render.js');
      if (format === 'json' || format === 'yaml') await renderDocument(record, format, ctx.io.stdout);
      else if (format === 'csv') {
        await renderRecords([record], {
          format,
          out: ctx.io.stdout,
          colors: ctx.out,
          columns: [
            { header: 'ID', value: (r) => r.id },
            { header: 'PROFILE', value: (r) => r.profile },
            { header: 'EXPIRES', value: (r) => r.expiresAt },
            { header: 'MAX USES', value: (r) => r.maxUses },
            { header: 'SECRET', value: (r) => r.secret },
            { header: 'URL', value: (r) => r.enrollmentUrl },
          ],
        });
      } else {
        ctx.io.stdout.write(formatKeyValues([
          ['token', created.secret],
          ['url', url],
          ['id', created.token.id],
          ['profile', created.token.profile],
          ['expires', created.token.expiresAt],
          ['max uses', created.token.maxUses ?? 'unlimited'],
        ], ctx.out));
      }
      ctx.warn('the token secret is shown only this once (emmctl keeps only a hash): store it now.');
      if (opts.qr) {
        if (!ctx.io.stderr.isTTY) ctx.warn('--qr needs a terminal; no QR code drawn');
        else {
          const { default: qr } = await import('qrcode-terminal');
          qr.generate(url, { small: true }, (code) => ctx.io.stderr.write(`${code}\n`));
        }
      }
    });

  token
    .command('list')
    .alias('ls')
    .description('list enrollment tokens (never shows secrets)')
    .addHelpText('after', `
Columns: ID, PROFILE, STATE (active, expired, revoked, used-up), USES, EXPIRES, CREATED; -o wide adds CREATED BY.

Examples:
  $ emmctl enroll token list
  $ emmctl enroll token list -o json

Next: \`emmctl enroll token revoke ID\`.`)
    .action(async (_opts: unknown, command: Command) => {
      const backend = await ctx.backend(command);
      const tokens = await backend.listEnrollmentTokens();
      const { renderRecords } = await import('../../output/render.js');
      const count = await renderRecords(tokens, { format: outputFormat(ctx, command), columns: tokenColumns(new Date()), out: ctx.io.stdout, colors: ctx.out });
      if (count === 0) ctx.info('No enrollment tokens. Create one: emmctl enroll token create --profile NAME');
    });

  token
    .command('revoke')
    .description('revoke an enrollment token: no further device can enroll with it')
    .argument('<id>', 'token id (see `emmctl enroll token list`)')
    .addHelpText('after', `
Devices that already enrolled with it stay enrolled.

Examples:
  $ emmctl enroll token revoke tok_0001`)
    .action(async (id: string, _opts: unknown, command: Command) => {
      const backend = await ctx.backend(command);
      const revoked = await backend.revokeEnrollmentToken(id);
      const { renderRecords } = await import('../../output/render.js');
      await renderRecords([revoked], { format: outputFormat(ctx, command), columns: tokenColumns(new Date()), out: ctx.io.stdout, colors: ctx.out });
      ctx.info(`Revoked enrollment token ${revoked.id} (profile ${revoked.profile}).`);
    });

  enroll
    .command('import')
    .description('pre-register devices from a CSV file (all rows or none)')
    .argument('<file>', 'CSV with a header row: serial,platform,owner,ownership,name,labels (labels as k=v;k2=v2)')
    .option('--skip-invalid', 'import the valid rows and report the invalid ones (default: import nothing if any row is invalid)')
    .option('--dry-run', 'check the file; import nothing')
    .addHelpText('after', `
serial and platform are required; platform is one of ${PLATFORMS.join(', ')}; ownership is
corporate or personal. Every bad row is reported as FILE:LINE: message. Exit 1 when any row is
invalid (nothing imported) unless --skip-invalid. A serial already known updates that device.

Example file:
  serial,platform,owner,ownership,name,labels
  R58N12345,android,ana@example.com,corporate,Ana's Galaxy,team=sales;site=lisbon

Examples:
  $ emmctl enroll import devices.csv --dry-run
  $ emmctl enroll import devices.csv --skip-invalid

Next: \`emmctl devices list --filter state=preregistered\`.`)
    .action(async (file: string, opts: { skipInvalid?: boolean; dryRun?: boolean }, command: Command) => {
      const { readFile } = await import('node:fs/promises');
      const { EmmctlError } = await import('../../errors.js');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new EmmctlError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
      }
      const { devices, errors } = await parseImport(text, file);
      for (const e of errors) ctx.io.stderr.write(`${e}\n`);
      if (errors.length && !opts.skipInvalid) {
        throw new EmmctlError(`${errors.length} problem${errors.length === 1 ? '' : 's'} in ${file}; nothing was imported`, {
          hint: 'fix the rows above, or pass --skip-invalid to import only the valid ones',
        });
      }
      if (opts.dryRun) {
        ctx.info(`${file}: ${devices.length} valid row${devices.length === 1 ? '' : 's'}${errors.length ? `, ${errors.length} problem(s)` : ''}; dry run, nothing imported.`);
        return;
      }
      if (devices.length === 0) {
        ctx.info('No valid rows; nothing imported.');
        return;
      }
      const backend = await ctx.backend(command);
      const result = await backend.preregisterDevices(devices.map(({ line: _line, ...d }) => d));
      ctx.info(`Imported ${devices.length} device${devices.length === 1 ? '' : 's'} from ${file}: ${result.created} created, ${result.updated} updated${errors.length ? `; ${errors.length} invalid row(s) skipped` : ''}.`);
      ctx.info('Next: emmctl devices list --filter state=preregistered');
    });
}
