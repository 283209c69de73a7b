// The end-to-end story on an intune context, through the built CLI against the fake Graph and
// login endpoint (fake-graph.ts): add the context (secret from stdin), plan with Intune's
// warnings, apply, re-plan "No changes.", export and re-plan, list devices and compliance, lock
// and wipe through the ledger (never a second wipe), and the commands Intune cannot do say so.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startFakeGraph, type FakeGraph } from './fake-graph.js';
import { INTUNE_REPO } from './helpers.js';


describe('intune: the end-to-end story through the CLI', () => {
  let fake: FakeGraph;
  let dir: { path: string; cleanup: () => void };
  let env: Record<string, string>;
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, { env, input, cwd: dir.path });

  beforeAll(async () => {
    // Device actions stay pending until read many times: the story sees them in flight.
    fake = await startFakeGraph({ actionReadsToDone: 1000, devices: [
      { platform: 'android', ownership: 'company', complianceState: 'compliant', deviceName: 'PHONE-1', serialNumber: 'SER-A1' },
      { platform: 'android', ownership: 'company', complianceState: 'noncompliant', deviceName: 'PHONE-2', serialNumber: 'SER-A2' },
      { platform: 'ios', ownership: 'personal', complianceState: 'inGracePeriod', deviceName: 'IPHONE-3', serialNumber: 'SER-I3' },
      { platform: 'windows', ownership: 'company', complianceState: 'compliant', deviceName: 'LAPTOP-4', serialNumber: 'SER-W4' },
    ] });
    dir = tempDir('emmctl-intune-story-');
    mkdirSync(join(dir.path, 'policies'));
    writeFileSync(join(dir.path, 'policies', 'intune.yaml'), INTUNE_REPO);
    env = { XDG_DATA_HOME: join(dir.path, 'data'), EMMCTL_CONFIG_DIR: join(dir.path, 'config') };
  });
  afterAll(async () => {
    await fake.close();
    dir.cleanup();
  });

  it('adds the context with the secret from stdin and never shows it', async () => {
    const add = await cli(['context', 'add', 'corp', '--intune', '--tenant-id', fake.tenantId, '--client-id', fake.clientId, '--client-secret-stdin', '--graph-endpoint', fake.graphUrl, '--login-endpoint', fake.loginUrl, '--use'], `${fake.secret}\n`);
    expect(add.stderr).toContain(`Added context "corp" (Intune tenant ${fake.tenantId}`);
    expect(add.code).toBe(0);
    const list = await cli(['context', 'list', '-o', 'json']);
    expect(JSON.parse(list.stdout).find((c: { name: string }) => c.name === 'corp')).toMatchObject({ backend: 'intune', tenantId: fake.tenantId, token: 'set' });
    const current = await cli(['context', 'current', '-o', 'json']);
    expect(JSON.parse(current.stdout)).toMatchObject({ name: 'corp', backend: 'intune', token: 'set' });
    for (const r of [add, list, current]) expect(r.stdout + r.stderr).not.toContain(fake.secret);
    const config = readFileSync(join(dir.path, 'config', 'config.json'), 'utf8');
    expect(JSON.parse(config).contexts.corp.intune.clientSecret).toBe(fake.secret);
  });

  it('refuses bad context flags with a precise message', async () => {
    const noTenant = await cli(['context', 'add', 'x', '--intune', '--client-id', fake.clientId]);
    expect([noTenant.code, noTenant.stderr]).toEqual([2, expect.stringContaining('--intune needs --tenant-id')]);
    const badClient = await cli(['context', 'add', 'x', '--intune', '--tenant-id', fake.tenantId, '--client-id', 'nope']);
    expect([badClient.code, badClient.stderr]).toEqual([2, expect.stringContaining('--client-id "nope" is not a GUID')]);
    const stray = await cli(['context', 'add', 'x', '--server', 'http://127.0.0.1:1', '--tenant-id', fake.tenantId]);
    expect([stray.code, stray.stderr]).toEqual([2, expect.stringContaining('--tenant-id goes with --intune')]);
    const plainHttp = await cli(['context', 'add', 'x', '--intune', '--tenant-id', fake.tenantId, '--client-id', fake.clientId, '--graph-endpoint', 'http://graph.example.com']);
    expect([plainHttp.code, plainHttp.stderr]).toEqual([2, expect.stringContaining('--graph-endpoint must be https://')]);
  });

  it('plans with what Intune cannot hold, applies, and re-plans as no changes', async () => {
    const plan = await cli(['plan']);
    expect(plan.code).toBe(0);
    expect(plan.stderr).toMatch(/CompliancePolicy\/baseline spec\.rules\.maxCheckInAgeDays: not applied in Intune: Intune's check-in age is one tenant-wide setting/);
    expect(plan.stderr).toMatch(/Group\/apple-byod spec\.match\.labels: not applied in Intune/);
    expect(plan.stdout).toContain('Plan: 6 to create, 0 to update, 0 to delete.');
    const apply = await cli(['apply', '--yes']);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('Apply complete: 6 created, 0 updated, 0 deleted.');
    const again = await cli(['plan', '--detailed-exitcode']);
    expect(again.stdout).toContain('No changes.');
    expect(again.code).toBe(0);
    // Every body Graph received matched Graph's own metadata (v1.0 CSDL, beta type list).
    expect(fake.schemaProblems).toEqual([]);
    // Named and marked as emmctl's; the lock step made the compliance policies beta objects.
    const names = [...fake.state.policies.values()].map((p) => String(p.record.displayName)).sort();
    expect(names).toContain('emmctl:android-baseline:android-owner');
    expect(names).toContain('emmctl:baseline:windows');
  });

  it('shows a change made in the portal as drift, and a saved plan made before it is refused', async () => {
    const saved = join(dir.path, 'before.plan');
    const policy = [...fake.state.policies.values()].find((p) => p.record.displayName === 'emmctl:android-baseline:android-owner')!;
    // The plan is saved while the tenant is as applied; its edit would change nothing yet.
    writeFileSync(join(dir.path, 'policies', 'extra.yaml'), 'apiVersion: emmctl/v1\nkind: Group\nmetadata: { name: extra }\nspec: { match: { platforms: [macos] } }\n');
    const out = await cli(['plan', '--out', saved]);
    expect(out.code).toBe(0);
    policy.record.passwordMinimumLength = 4;
    policy.record.version = Number(policy.record.version ?? 1) + 1;
    policy.record.lastModifiedDateTime = new Date(Date.now() + 1000).toISOString();
    const drift = await cli(['plan']);
    expect(drift.stdout).toContain('~ update Policy/android-baseline');
    expect(drift.stdout).toMatch(/spec\.settings\.passcode\.minLength: 4 → 8/);
    // The saved plan touches only Group/extra, which did not change since: it still applies.
    const extraCreate = await cli(['apply', '--plan', saved, '--yes']);
    expect(extraCreate.stdout).toContain('Apply complete: 1 created, 0 updated, 0 deleted.');
    expect(extraCreate.code).toBe(0);
    const fix = await cli(['apply', '--yes']);
    expect(fix.stdout).toContain('Apply complete: 0 created, 1 updated, 0 deleted.');
    expect(policy.record.passwordMinimumLength).toBe(8);
    // A plan over a resource that then changes in the portal is refused.
    writeFileSync(join(dir.path, 'policies', 'extra.yaml'), 'apiVersion: emmctl/v1\nkind: Group\nmetadata: { name: extra }\nspec: { match: { platforms: [macos, windows] } }\n');
    expect((await cli(['plan', '--out', saved])).code).toBe(0);
    const extra = [...fake.state.groups.values()].find((g) => g.record.displayName === 'emmctl:extra')!;
    extra.record.description = `${String(extra.record.description)} `;
    const stale = await cli(['apply', '--plan', saved, '--yes']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/plan is stale: Group\/extra changed \(version \d+, plan expected \d+\)/);
  });

  it('exports what it owns so that the export re-plans as no changes', async () => {
    const out = join(dir.path, 'exported');
    const ex = await cli(['export', '--dir', out]);
    expect(ex.code).toBe(0);
    const plan = await cli(['plan', out, '--detailed-exitcode']);
    expect(plan.stdout).toContain('No changes.');
    expect(plan.code).toBe(0);
  });

  it('lists devices and compliance from managedDevices', async () => {
    const list = await cli(['devices', 'list', '-o', 'json']);
    expect(list.code).toBe(0);
    const devices = JSON.parse(list.stdout) as Array<{ id: string; name: string; platform: string; ownership: string }>;
    expect(devices.map((d) => d.name).sort()).toEqual(['IPHONE-3', 'LAPTOP-4', 'PHONE-1', 'PHONE-2']);
    const android = JSON.parse((await cli(['devices', 'list', '--filter', 'platform=android', '--sort', 'name', '-o', 'json'])).stdout) as typeof devices;
    expect(android.map((d) => [d.name, d.ownership])).toEqual([['PHONE-1', 'corporate'], ['PHONE-2', 'corporate']]);
    const compliance = JSON.parse((await cli(['compliance', '-o', 'json'])).stdout) as Array<{ name: string; status: string; failures: unknown[] }>;
    // Intune evaluates compliance itself (the fake too, against the policies just applied): emmctl reports its verdict.
    const STATUS: Record<string, string> = { compliant: 'compliant', noncompliant: 'noncompliant', inGracePeriod: 'in-grace' };
    const verdicts = Object.fromEntries([...fake.state.devices.values()].map((d) => [d.managed.deviceName, STATUS[String(d.managed.complianceState)] ?? 'unknown']));
    expect(Object.fromEntries(compliance.map((c) => [c.name, c.status]))).toEqual(verdicts);
    expect(Object.values(verdicts)).toContain('noncompliant');
    for (const c of compliance.filter((x) => x.status === 'noncompliant')) expect(c.failures.length).toBeGreaterThan(0);
    const phone = android[0]!;
    const show = await cli(['devices', 'show', phone.id, '-o', 'json']);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: phone.id, name: 'PHONE-1', groups: ['all', 'corp-android'], compliance: { status: expect.any(String) } });
    const gate = await cli(['compliance', '--fail-on', 'noncompliant']);
    expect(gate.code).toBe(5);
  });

  it('locks and wipes through Intune device actions, never a second wipe', async () => {
    const devices = JSON.parse((await cli(['devices', 'list', '--filter', 'name=PHONE-*', '--sort', 'name', '-o', 'json'])).stdout) as Array<{ id: string }>;
    const [one, two] = devices.map((d) => d.id);
    const lock = await cli(['lock', one!, '--reason', 'lost', '-o', 'json']);
    expect(lock.code).toBe(0);
    const again = await cli(['lock', one!]);
    expect(again.stdout + again.stderr).toMatch(/already pending/);
    const wipe = await cli(['wipe', two!, '--yes', '--reason', 'stolen']);
    expect(wipe.code).toBe(0);
    const wipeAgain = await cli(['wipe', two!, '--yes']);
    expect(wipeAgain.stdout + wipeAgain.stderr).toMatch(/already pending/);
    const sent = fake.requests.filter((r) => r.method === 'POST' && r.status < 300 && /\/managedDevices\/[^/]+\/(wipe|remoteLock)$/.test(r.path));
    expect(sent.map((r) => r.path.split('/').at(-1)).sort()).toEqual(['remoteLock', 'wipe']);
    const cmds = JSON.parse((await cli(['commands', 'list', '-o', 'json'])).stdout) as Array<{ id: string; type: string; status: string; reason?: string }>;
    expect(cmds.map((c) => [c.type, c.reason])).toEqual([['lock', 'lost'], ['wipe', 'stolen']]);
    const cancel = await cli(['commands', 'cancel', cmds[0]!.id]);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toContain('Intune cannot cancel a device action once it is sent');
    const audit = JSON.parse((await cli(['audit', '-o', 'json'])).stdout) as Array<{ action: string; target: string }>;
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['apply', 'command.lock', 'command.wipe']));
  });

  it('makes, lists and revokes Android enrollment tokens through the beta enrollment profile', async () => {
    const made = await cli(['enroll', 'token', 'create', '--profile', 'corp-android', '--expires', '2d', '-o', 'json']);
    expect(made.code).toBe(0);
    const token = JSON.parse(made.stdout) as { id: string; profile: string; secret: string; enrollmentUrl: string; expiresAt: string };
    expect(token).toMatchObject({ profile: 'corp-android', secret: expect.stringMatching(/^[A-Z]{20}$/) });
    // The device scans Intune's own QR payload, not an emmctl URL.
    expect(token.enrollmentUrl).not.toContain('emmctl://');
    expect(token.enrollmentUrl).toContain(token.secret);
    const listed = await cli(['enroll', 'token', 'list', '-o', 'json']);
    expect(listed.stdout).not.toContain(token.secret);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: token.id, profile: 'corp-android', revoked: false })]);
    const maxUses = await cli(['enroll', 'token', 'create', '--profile', 'corp-android', '--max-uses', '5']);
    expect([maxUses.code, maxUses.stderr]).toEqual([1, expect.stringContaining('Intune enrollment tokens have no use limit')]);
    const revoked = await cli(['enroll', 'token', 'revoke', token.id, '-o', 'json']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual([expect.objectContaining({ id: token.id, revoked: true })]);
  });

  it('pre-registers Windows devices with Autopilot from the hardwareHash column', async () => {
    const hash = Buffer.from('fake hardware hash of LAPTOP-9').toString('base64');
    writeFileSync(join(dir.path, 'autopilot.csv'), `serial,platform,owner,hardwareHash\nSER-W9,windows,ana@contoso.example,${hash}\n`);
    const imported = await cli(['enroll', 'import', 'autopilot.csv']);
    expect(imported.code).toBe(0);
    const identities = fake.requests.filter((r) => r.method === 'POST' && r.path === '/deviceManagement/importedWindowsAutopilotDeviceIdentities' && r.status < 300);
    expect(identities).toHaveLength(1);
    expect(identities[0]!.body).toMatchObject({ serialNumber: 'SER-W9', hardwareIdentifier: hash, assignedUserPrincipalName: 'ana@contoso.example' });
    writeFileSync(join(dir.path, 'nohash.csv'), 'serial,platform\nSER-A9,android\n');
    const refused = await cli(['enroll', 'import', 'nohash.csv']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SER-A9: Intune pre-registers Windows devices only (Autopilot), not android');
    expect(fake.schemaProblems).toEqual([]);
  });

  it('says clearly what only an emmctl server or store can do', async () => {
    const token = await cli(['server', 'token', 'create', '--role', 'admin']);
    expect(token.code).toBe(2);
    expect(token.stderr).toContain('intune backend tenant');
    const sim = await cli(['simulate', '--devices', '2', '--once']);
    expect(sim.code).toBe(2);
    expect(sim.stderr).toContain('simulate needs an emmctl store or server');
    const release = await cli(['devices', 'release', 'x']);
    expect(release.code).toBe(1);
    expect(release.stderr).toContain('Intune has no re-enrollment release');
  });
});
