// `emmctl enroll token create|list|revoke` and `emmctl enroll import FILE.csv`.
//
// Enrollment URL printed with a new token (what a device agent, an onboarding app or a QR code
// carries): against a server, `<server>/v1/agent/enroll?token=<secret>` (the agent POSTs the
// token there); on the embedded store, which has no network endpoint, `emmctl://enroll?token=<secret>`
// (`emmctl simulate` and local agents take the secret itself). Built by src/fleet/enrollment.ts,
// with token states and the import's row validation.
import { Command } from 'commander';
import { PLATFORMS, type EnrollmentToken } from '../../model/fleet.js';
import type { ImportDevice } from '../../fleet/enrollment.js';
import type { Column } from '../../output/render.js';
import type { CliContext } from '../context.js';
import { outputFormat, positiveInt } from './devices.js';


function tokenColumns(now: Date, tokenState: (t: EnrollmentToken, now: Date) => string): Column<EnrollmentToken>[] {
  return [
    { header: 'ID', value: (t) => t.id, keep: true },
    { header: 'PROFILE', value: (t) => t.profile },
    { header: 'STATE', value: (t) => tokenState(t, now), color: (s, c, t) => (tokenState(t, now) === 'active' ? c.green(s) : c.dim(s)) },
    { header: 'USES', value: (t) => (t.maxUses ? `${t.uses}/${t.maxUses}` : String(t.uses)) },
    { header: 'EXPIRES', value: (t) => t.expiresAt, time: true },
    { header: 'CREATED', value: (t) => t.createdAt, time: true },
    { header: 'CREATED BY', value: (t) => t.createdBy, wide: true, flex: true },
  ];
}

/** The file's CSV syntax, then its rows: every problem is `FILE:LINE: message`. */
async function parseImport(text: string, file: string): Promise<{ devices: ImportDevice[]; errors: string[] }> {
  const { parseCsv, CsvSyntaxError } = await import('../../output/csv.js');
  const { validateImport } = await import('../../fleet/enrollment.js');
  let rows;
  try {
    rows = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) return { devices: [], errors: [`${file}:${error.line}: ${error.message}`] };
    throw error;
  }
  return validateImport(rows, file);
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
    .option('--expires <duration>', "valid for this long: 30m, 12h, 7d, 2w (default: the profile's tokenTtl, else 7d)")
    .option('--max-uses <n>', "at most N devices may enroll with it (default: the profile's maxUses, else unlimited)", positiveInt('--max-uses'))
    .option('--qr', 'also draw the enrollment URL as a QR code (on a terminal, on stderr)')
    .addHelpText('after', `
The secret is printed once (stdout) and stored only as a hash: keep it now.
Enrollment URL: <server>/v1/agent/enroll?token=SECRET against a server; emmctl://enroll?token=SECRET
on the embedded store. -o json prints {id, profile, createdAt, expiresAt, maxUses, uses, revoked,
createdBy, secret, enrollmentUrl}, and on a server with the Android channel, for a profile that
takes Android devices, android: {qrCode, tokenName, expiresAt} (Google's provisioning payload,
which --qr draws instead of the URL).

Examples:
  $ emmctl enroll token create --profile corp-android
  $ emmctl enroll token create --profile byod-ios --expires 2w --max-uses 100 --qr
  $ SECRET=$(emmctl enroll token create --profile corp-android -o json | jq -r .secret)

Next: \`emmctl enroll token list\`; revoke a leaked token with \`emmctl enroll token revoke ID\`.`)
    .action(async (opts: { profile: string; expires?: string; maxUses?: number; qr?: boolean }, command: Command) => {
      const { parseDuration } = await import('../../output/time.js');
      // Unset flags stay unset: the backend takes the profile's tokenTtl and maxUses for them.
      const expiresInSeconds = opts.expires === undefined ? undefined : parseDuration(opts.expires, '--expires');
      const backend = await ctx.backend(command);
      const created = await backend.createEnrollmentToken({ profile: opts.profile, expiresInSeconds, maxUses: opts.maxUses });
      const { enrollmentUrl } = await import('../../fleet/enrollment.js');
      const url = created.enrollmentUrl ?? enrollmentUrl(backend, created.secret);
      const record = { ...created.token, secret: created.secret, enrollmentUrl: url, ...(created.android ? { android: created.android } : {}) };
      const format = outputFormat(ctx, command);
      const { renderRecordAsData, formatKeyValues } = await import('../../output/render.js');
      const asData = await renderRecordAsData(record, {
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
      if (!asData) {
        ctx.io.stdout.write(formatKeyValues([
          ['token', created.secret],
          ['url', url],
          ['id', created.token.id],
          ['profile', created.token.profile],
          ['expires', created.token.expiresAt],
          ['max uses', created.token.maxUses ?? 'unlimited'],
          ...(created.android ? [['android token', created.android.tokenName], ['android qr code', created.android.qrCode]] as Array<[string, string]> : []),
        ], ctx.out));
      }
      ctx.warn('the token secret is shown only this once (emmctl keeps only a hash): store it now.');
      if (created.android) ctx.warn('the Android QR code holds Google\'s enrollment token: it is shown only this once (emmctl does not keep it).');
      if (opts.qr) {
        if (!ctx.io.stderr.isTTY) ctx.warn('--qr needs a terminal; no QR code drawn');
        else {
          const { default: qr } = await import('qrcode-terminal');
          // An Android device provisions from Google's payload (scanned on the welcome screen), not from emmctl's URL.
          qr.generate(created.android?.qrCode ?? url, { small: true }, (code) => ctx.io.stderr.write(`${code}\n`));
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
      const { tokenState } = await import('../../fleet/enrollment.js');
      const count = await renderRecords(tokens, { format: outputFormat(ctx, command), columns: tokenColumns(new Date(), tokenState), out: ctx.io.stdout, colors: ctx.out });
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
      const { tokenState } = await import('../../fleet/enrollment.js');
      await renderRecords([revoked], { format: outputFormat(ctx, command), columns: tokenColumns(new Date(), tokenState), out: ctx.io.stdout, colors: ctx.out });
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
      const { sanitize } = await import('../../output/sanitize.js');
      for (const e of errors) ctx.io.stderr.write(`${sanitize(e)}\n`);
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
