// `export --adopt` on an intune context: a tenant set up by hand (a dynamic group, an iOS
// configuration and an iOS compliance policy assigned to it, and objects emmctl cannot express)
// is brought under the files. What can be expressed is renamed emmctl:… and marked, the rest is
// listed with why and left alone, and the exported files re-plan as "No changes.".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { graph } from './fake-client.js';
import { startFakeGraph, type FakeGraph } from './fake-graph.js';

describe('intune: export --adopt', () => {
  let fake: FakeGraph;
  let dir: { path: string; cleanup: () => void };
  let env: Record<string, string>;
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, { env, input, cwd: dir.path });
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    fake = await startFakeGraph({ devices: 4 });
    dir = tempDir('emmctl-intune-adopt-');
    env = { XDG_DATA_HOME: join(dir.path, 'data'), EMMCTL_CONFIG_DIR: join(dir.path, 'config') };
    const made = async (path: string, body: unknown) => {
      const r = await graph(fake, 'POST', path, body);
      expect(r.status, r.text).toBeLessThan(300);
      return String(r.json.id);
    };
    ids.group = await made('/groups', { displayName: 'Corp iPhones', description: 'hand made', mailEnabled: false, mailNickname: 'corp-iphones', securityEnabled: true, groupTypes: ['DynamicMembership'], membershipRule: '(device.deviceOSType -eq "iPhone") -and (device.deviceOwnership -eq "Company")', membershipRuleProcessingState: 'On' });
    ids.byUser = await made('/groups', { displayName: 'Kiosks', mailEnabled: false, mailNickname: 'kiosks', securityEnabled: true, groupTypes: ['DynamicMembership'], membershipRule: '(device.displayName -startsWith "KIOSK")', membershipRuleProcessingState: 'On' });
    ids.config = await made('/deviceManagement/deviceConfigurations', { '@odata.type': '#microsoft.graph.iosGeneralDeviceConfiguration', displayName: 'iOS baseline', passcodeRequired: true, passcodeMinimumLength: 6, cameraBlocked: true });
    await graph(fake, 'POST', `/deviceManagement/deviceConfigurations/${ids.config}/assign`, { assignments: [{ '@odata.type': '#microsoft.graph.deviceConfigurationAssignment', target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: ids.group } }] });
    ids.compliance = await made('/deviceManagement/deviceCompliancePolicies', {
      '@odata.type': '#microsoft.graph.iosCompliancePolicy', displayName: 'iOS compliance', osMinimumVersion: '17.0', securityBlockJailbrokenDevices: true,
      scheduledActionsForRule: [{ ruleName: 'PasswordRequired', scheduledActionConfigurations: [{ actionType: 'block', gracePeriodHours: 24, notificationTemplateId: '', notificationMessageCCList: [] }] }],
    });
    await graph(fake, 'POST', `/deviceManagement/deviceCompliancePolicies/${ids.compliance}/assign`, { assignments: [{ '@odata.type': '#microsoft.graph.deviceCompliancePolicyAssignment', target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: ids.group } }] });
    ids.everyone = await made('/deviceManagement/deviceConfigurations', { '@odata.type': '#microsoft.graph.windows10GeneralConfiguration', displayName: 'Windows for all', passwordRequired: true });
    await graph(fake, 'POST', `/deviceManagement/deviceConfigurations/${ids.everyone}/assign`, { assignments: [{ '@odata.type': '#microsoft.graph.deviceConfigurationAssignment', target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } }] });
    const add = await cli(['context', 'add', 'corp', '--intune', '--tenant-id', fake.tenantId, '--client-id', fake.clientId, '--client-secret-stdin', '--graph-endpoint', fake.graphUrl, '--login-endpoint', fake.loginUrl, '--use'], fake.secret);
    expect(add.code).toBe(0);
  });
  afterAll(async () => {
    await fake.close();
    dir.cleanup();
  });

  it('needs --yes off a terminal, and changes nothing without it', async () => {
    const r = await cli(['export', '--adopt', '--dir', join(dir.path, 'out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Group/corp-iphones  ← "Corp iPhones"');
    expect(r.stderr).toContain('needs --yes when not run on a terminal; nothing was adopted or written');
    expect(fake.state.groups.get(ids.group!)!.record.displayName).toBe('Corp iPhones');
  });

  it('takes over what it can express, says why not for the rest, and the export re-plans as no changes', async () => {
    const out = join(dir.path, 'adopted');
    const r = await cli(['export', '--adopt', '--yes', '--dir', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/not adopted: group "Kiosks": its membership rule .* uses conditions emmctl cannot express/);
    expect(r.stderr).toMatch(/not adopted: configuration "Windows for all": its groups reach android-work, android-owner, ios, macos, windows/);
    expect(r.stderr).toContain('Adopted 3 objects.');
    expect(fake.state.groups.get(ids.group!)!.record.displayName).toBe('emmctl:corp-iphones');
    expect(fake.state.groups.get(ids.byUser!)!.record.displayName).toBe('Kiosks');
    expect(fake.state.policies.get(ids.config!)!.record).toMatchObject({ displayName: 'emmctl:ios-baseline:ios', passcodeMinimumLength: 6, cameraBlocked: true });
    const policies = readFileSync(join(out, 'policies.yaml'), 'utf8');
    expect(policies).toContain('name: ios-baseline');
    expect(policies).toContain('assign:\n    - corp-iphones');
    expect(readFileSync(join(out, 'compliance-policies.yaml'), 'utf8')).toMatch(/after: 1d\n\s+do: markNoncompliant/);
    const plan = await cli(['plan', out, '--detailed-exitcode']);
    expect(plan.stdout).toContain('No changes.');
    expect(plan.code).toBe(0);
    expect(fake.schemaProblems).toEqual([]);
    const again = await cli(['export', '--adopt', '--yes']);
    expect(again.stderr).toContain('Nothing to adopt');
  });
});
