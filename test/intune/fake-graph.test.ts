// The fake Graph itself: login, OData paging/$select/$filter, $batch, Graph and Intune error
// bodies, injected faults, the write limit and the schema refusal. What other suites rely on
// the fake to do is pinned here, so a fake that drifted from Graph fails before they do.
import { execFileSync } from 'node:child_process';
import { createHash, createSign, randomUUID, X509Certificate, sign as cryptoSign, constants as cryptoConstants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_DEVICES_GROUP_ID, GRAPH_SCOPE, startFakeGraph, type FakeGraph } from './fake-graph.js';
import { graph, listAll, rawRequest } from './fake-client.js';
import { propertyNames, specsAvailable } from './graph-schema.js';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const tokenForm = (fake: FakeGraph, extra: Record<string, string> = {}) =>
  new URLSearchParams({ client_id: fake.clientId, scope: GRAPH_SCOPE, grant_type: 'client_credentials', client_secret: fake.secret, ...extra }).toString();

const postForm = (fake: FakeGraph, tenant: string, body: string) =>
  rawRequest(`${fake.loginUrl}/${tenant}/oauth2/v2.0/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body, caFile: fake.caFile });

const iosConfig = (name: string, extra: Record<string, unknown> = {}) => ({
  '@odata.type': '#microsoft.graph.iosGeneralDeviceConfiguration',
  displayName: name,
  description: 'managed by emmctl',
  passcodeRequired: true,
  passcodeMinimumLength: 6,
  ...extra,
});

const androidCompliance = (name: string, actions: Array<Record<string, unknown>> = [{ actionType: 'block', gracePeriodHours: 0 }], extra: Record<string, unknown> = {}) => ({
  '@odata.type': '#microsoft.graph.androidWorkProfileCompliancePolicy',
  displayName: name,
  osMinimumVersion: '14',
  storageRequireEncryption: true,
  scheduledActionsForRule: [{ ruleName: 'PasswordRequired', scheduledActionConfigurations: actions }],
  ...extra,
});

const securityGroup = (name: string, extra: Record<string, unknown> = {}) => ({
  displayName: name,
  mailEnabled: false,
  mailNickname: name.replace(/[^A-Za-z0-9-]/g, '-'),
  securityEnabled: true,
  ...extra,
});

describe('login endpoint', () => {
  let fake: FakeGraph;
  beforeAll(async () => {
    fake = await startFakeGraph({ certificate: hasOpenssl });
  });
  afterAll(() => fake.close());

  it('serves the OpenID configuration and instance discovery MSAL reads, pointing at itself', async () => {
    const oc = await rawRequest(`${fake.authority}/v2.0/.well-known/openid-configuration`);
    expect(oc.status).toBe(200);
    expect(oc.json.token_endpoint).toBe(`${fake.authority}/oauth2/v2.0/token`);
    expect(oc.json.issuer).toBe(`${fake.loginUrl}/${fake.tenantId}/v2.0`);
    expect(oc.json.authorization_endpoint).toBe(`${fake.authority}/oauth2/v2.0/authorize`);
    const disc = await rawRequest(`${fake.loginUrl}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${fake.authority}/oauth2/v2.0/authorize`)}`);
    expect(disc.json.tenant_discovery_endpoint).toBe(`${fake.loginUrl}/{tenant}/v2.0/.well-known/openid-configuration`);
    expect(disc.json.metadata[0].aliases).toEqual([new URL(fake.loginUrl).host]);
    const unknown = await rawRequest(`${fake.loginUrl}/${randomUUID()}/v2.0/.well-known/openid-configuration`);
    expect(unknown.status).toBe(400);
    expect(unknown.json.error_description).toMatch(/^AADSTS90002: Tenant '.*' not found/);
  });

  it('issues a token for the client secret, and refuses a wrong secret, client, tenant or scope with AADSTS errors', async () => {
    const before = fake.tokensIssued;
    const good = await postForm(fake, fake.tenantId, tokenForm(fake));
    expect(good.status).toBe(200);
    expect(good.json).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(fake.tokensIssued).toBe(before + 1);
    const me = await graph(fake, 'GET', '/groups', undefined, { token: good.json.access_token });
    expect(me.status).toBe(200);

    const wrong = await postForm(fake, fake.tenantId, tokenForm(fake, { client_secret: 'nope' }));
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
    expect(wrong.json.error_description).toMatch(/^AADSTS7000215: Invalid client secret provided\./);
    expect(wrong.json.error_description).not.toContain('nope');

    const client = await postForm(fake, fake.tenantId, tokenForm(fake, { client_id: randomUUID() }));
    expect(client.json).toMatchObject({ error: 'unauthorized_client', error_codes: [700016] });
    const tenant = await postForm(fake, randomUUID(), tokenForm(fake));
    expect(tenant.json).toMatchObject({ error: 'invalid_tenant', error_codes: [90002] });
    const scope = await postForm(fake, fake.tenantId, tokenForm(fake, { scope: 'https://graph.microsoft.com/User.Read' }));
    expect(scope.json).toMatchObject({ error: 'invalid_scope', error_codes: [1002012] });
    const none = await postForm(fake, fake.tenantId, tokenForm(fake, { client_secret: '' }));
    expect(none.json).toMatchObject({ error: 'invalid_client', error_codes: [7000216] });
    expect(fake.tokensIssued).toBe(before + 1);
  });

  it.skipIf(!hasOpenssl)('accepts a client assertion signed with the registered certificate and checks aud, iss, sub and signature', async () => {
    const cert = fake.clientCertificate!;
    const key = readFileSync(cert.keyFile, 'utf8');
    const x5t = Buffer.from(createHash('sha1').update(new X509Certificate(readFileSync(cert.certFile)).raw).digest()).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const assertion = (claims: Record<string, unknown>, alg: 'RS256' | 'PS256' = 'RS256') => {
      const head = Buffer.from(JSON.stringify({ alg, typ: 'JWT', x5t })).toString('base64url');
      const body = Buffer.from(JSON.stringify({ aud: `${fake.authority}/oauth2/v2.0/token`, iss: fake.clientId, sub: fake.clientId, jti: randomUUID(), nbf: now, exp: now + 600, ...claims })).toString('base64url');
      const sig = alg === 'RS256'
        ? createSign('RSA-SHA256').update(`${head}.${body}`).sign(key)
        : cryptoSign('sha256', Buffer.from(`${head}.${body}`), { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
      return `${head}.${body}.${sig.toString('base64url')}`;
    };
    const form = (a: string) => new URLSearchParams({ client_id: fake.clientId, scope: GRAPH_SCOPE, grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a }).toString();
    expect((await postForm(fake, fake.tenantId, form(assertion({})))).status).toBe(200);
    expect((await postForm(fake, fake.tenantId, form(assertion({}, 'PS256')))).status).toBe(200);
    const aud = await postForm(fake, fake.tenantId, form(assertion({ aud: 'https://login.microsoftonline.com/x/oauth2/v2.0/token' })));
    expect(aud.json.error_codes).toEqual([700212]);
    const iss = await postForm(fake, fake.tenantId, form(assertion({ iss: randomUUID() })));
    expect(iss.json.error_codes).toEqual([700023]);
    const expired = await postForm(fake, fake.tenantId, form(assertion({ exp: now - 3600, nbf: now - 7200 })));
    expect(expired.json.error_codes).toEqual([700024]);
    const good = assertion({});
    const tampered = `${good.slice(0, good.lastIndexOf('.') + 1)}${Buffer.from('forged').toString('base64url')}`;
    expect((await postForm(fake, fake.tenantId, form(tampered))).json.error_codes).toEqual([700027]);
  });

  it('Graph refuses a missing, foreign or expired token with 401 and WWW-Authenticate', async () => {
    const none = await graph(fake, 'GET', '/groups', undefined, { token: null });
    expect(none.status).toBe(401);
    expect(none.json.error).toMatchObject({ code: 'InvalidAuthenticationToken', message: 'Access token is empty.' });
    expect(none.headers['www-authenticate']).toContain('Bearer');
    const foreign = await graph(fake, 'GET', '/groups', undefined, { token: 'abc.def.ghi' });
    expect(foreign.status).toBe(401);
    const t = fake.issueToken();
    expect((await graph(fake, 'GET', '/groups', undefined, { token: t })).status).toBe(200);
    fake.expireTokens();
    const expired = await graph(fake, 'GET', '/groups', undefined, { token: t });
    expect(expired.status).toBe(401);
    expect(expired.json.error.message).toBe('Lifetime validation failed, the token is expired.');
  });

  it('refuses a route without its application permission (Intune names the scopes it needs)', async () => {
    const token = fake.issueToken(['Group.Read.All']);
    expect((await graph(fake, 'GET', '/groups', undefined, { token })).status).toBe(200);
    const denied = await graph(fake, 'POST', '/groups', securityGroup('x'), { token });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('Authorization_RequestDenied');
    const intune = await graph(fake, 'GET', '/deviceManagement/deviceConfigurations', undefined, { token });
    expect(intune.status).toBe(403);
    expect(JSON.parse(intune.json.error.message).Message).toContain('DeviceManagementConfiguration.Read.All');
  });
});

describe.skipIf(!hasOpenssl)('https (tls: true)', () => {
  it('serves login and Graph over https with its own CA', async () => {
    const fake = await startFakeGraph({ tls: true });
    try {
      expect(fake.graphUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(fake.authority).toMatch(/^https:/);
      const oc = await rawRequest(`${fake.authority}/v2.0/.well-known/openid-configuration`, { caFile: fake.caFile });
      expect(oc.json.token_endpoint).toBe(`${fake.authority}/oauth2/v2.0/token`);
      expect((await graph(fake, 'GET', '/groups')).status).toBe(200);
      await expect(rawRequest(`${fake.graphUrl}/v1.0/groups`)).rejects.toThrow(/self[- ]signed|certificate/i);
    } finally {
      await fake.close();
    }
  });
});

describe('Graph resources', () => {
  let fake: FakeGraph;
  let now = Date.parse('2026-03-02T09:00:00Z');
  beforeAll(async () => {
    fake = await startFakeGraph({ devices: 23, pageSize: 10, clock: () => now, seed: 7 });
  });
  afterAll(() => fake.close());

  it('pages managedDevices with @odata.nextLink, keeping $select and $filter; $top sets the page size', async () => {
    const { items, pages } = await listAll(fake, '/deviceManagement/managedDevices');
    expect(pages).toBe(3);
    expect(items).toHaveLength(23);
    expect(new Set(items.map((d) => d.id)).size).toBe(23);
    const first = await graph(fake, 'GET', "/deviceManagement/managedDevices?$select=id,deviceName,operatingSystem&$filter=operatingSystem eq 'Android'");
    expect(first.json['@odata.context']).toBe(`${fake.graphUrl}/v1.0/$metadata#deviceManagement/managedDevices`);
    expect(Object.keys(first.json.value[0]).sort()).toEqual(['deviceName', 'id', 'operatingSystem']);
    const android = await listAll(fake, "/deviceManagement/managedDevices?$select=id,operatingSystem&$filter=operatingSystem eq 'Android'");
    expect(android.items.length).toBe(fake.state.managedDevices().filter((d) => d.operatingSystem === 'Android').length);
    expect(android.items.every((d) => d.operatingSystem === 'Android' && Object.keys(d).length === 2)).toBe(true);
    const top = await graph(fake, 'GET', '/deviceManagement/managedDevices?$top=4');
    expect(top.json.value).toHaveLength(4);
    expect(top.json['@odata.nextLink']).toContain('$top=4');
    const next = await graph(fake, 'GET', top.json['@odata.nextLink']);
    expect(next.json.value.map((d: { id: string }) => d.id)).not.toContain(top.json.value[0].id);
  });

  it('supports $filter only where Intune does, and says so', async () => {
    const bad = await graph(fake, 'GET', "/deviceManagement/managedDevices?$filter=contains(deviceName,'IPHONE')");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.json.error.message).Message).toContain('contains() is not supported');
    const prop = await graph(fake, 'GET', "/deviceManagement/managedDevices?$filter=notes eq 'x'");
    expect(prop.status).toBe(400);
    const syntax = await graph(fake, 'GET', "/deviceManagement/managedDevices?$filter=deviceName eq 'unterminated");
    expect(syntax.status).toBe(400);
    const combined = await listAll(fake, "/deviceManagement/managedDevices?$filter=operatingSystem eq 'Windows' and managedDeviceOwnerType eq 'company'");
    const expected = fake.state.managedDevices().filter((d) => d.operatingSystem === 'Windows' && d.managedDeviceOwnerType === 'company');
    expect(combined.items.map((d) => d.id).sort()).toEqual(expected.map((d) => d.id).sort());
    const selectBad = await graph(fake, 'GET', '/deviceManagement/managedDevices?$select=deviceNam');
    expect(selectBad.status).toBe(400);
    expect(selectBad.json.error.message).toBe("Could not find a property named 'deviceNam' on type 'microsoft.graph.managedDevice'.");
  });

  it.skipIf(!specsAvailable())('seeds devices with only the properties managedDevice has in v1.0', () => {
    const names = propertyNames('v1.0', 'microsoft.graph.managedDevice')!;
    const platforms = new Set<string>();
    for (const d of fake.state.managedDevices()) {
      platforms.add(String(d.operatingSystem));
      for (const k of Object.keys(d)) expect(names.has(k), k).toBe(true);
    }
    expect([...platforms].sort()).toEqual(['Android', 'Windows', 'iOS', 'iPadOS', 'macOS']);
  });

  it('creates security groups (dynamic rule, static members), finds them by displayName and refuses bad ones', async () => {
    const dyn = await graph(fake, 'POST', '/groups', securityGroup('emmctl:corp-android', { groupTypes: ['DynamicMembership'], membershipRule: '(device.deviceOSType -eq "AndroidEnterprise") -and (device.deviceOwnership -eq "Company")', membershipRuleProcessingState: 'On' }));
    expect(dyn.status).toBe(201);
    expect(dyn.json.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(dyn.json['@odata.context']).toBe(`${fake.graphUrl}/v1.0/$metadata#groups/$entity`);
    const members = await listAll(fake, `/groups/${dyn.json.id}/members`);
    const expected = fake.state.managedDevices().filter((d) => d.operatingSystem === 'Android' && d.managedDeviceOwnerType === 'company');
    expect(members.items.map((m) => m.deviceId).sort()).toEqual(expected.map((d) => d.azureADDeviceId).sort());
    expect(members.items[0]['@odata.type']).toBe('#microsoft.graph.device');

    const entra = (await listAll(fake, '/devices')).items.slice(0, 2);
    const stat = await graph(fake, 'POST', '/groups', securityGroup('emmctl:kiosks', { 'members@odata.bind': entra.map((e) => `https://graph.microsoft.com/v1.0/directoryObjects/${e.id}`) }));
    expect(stat.status).toBe(201);
    expect((await listAll(fake, `/groups/${stat.json.id}/members`)).items.map((m) => m.id).sort()).toEqual(entra.map((e) => e.id).sort());
    const cast = await graph(fake, 'GET', `/groups/${stat.json.id}/members/microsoft.graph.device?$select=id,deviceId`);
    expect(cast.json['@odata.context']).toBe(`${fake.graphUrl}/v1.0/$metadata#devices`);
    expect(cast.json.value.map((m: Record<string, unknown>) => Object.keys(m).sort())).toEqual([['@odata.type', 'deviceId', 'id'], ['@odata.type', 'deviceId', 'id']]);
    expect((await graph(fake, 'GET', `/groups/${stat.json.id}/members/microsoft.graph.user`)).json.value).toEqual([]);
    expect((await graph(fake, 'GET', `/groups/${stat.json.id}/members/microsoft.graph.nothing`)).status).toBe(400);

    const found = await graph(fake, 'GET', `/groups?$filter=displayName eq 'emmctl:kiosks'&$select=id,displayName`);
    expect(found.json.value).toEqual([{ id: stat.json.id, displayName: 'emmctl:kiosks' }]);
    const byDevice = await graph(fake, 'GET', `/devices?$filter=deviceId eq '${entra[0].deviceId}'`);
    expect(byDevice.json.value.map((d: { id: string }) => d.id)).toEqual([entra[0].id]);

    const badRule = await graph(fake, 'POST', '/groups', securityGroup('bad', { groupTypes: ['DynamicMembership'], membershipRule: '(device.platform -eq "iOS")', membershipRuleProcessingState: 'On' }));
    expect(badRule.status).toBe(400);
    expect(badRule.json.error).toMatchObject({ code: 'Request_BadRequest' });
    expect(badRule.json.error.message).toContain("unsupported device property 'platform'");
    const noNick = await graph(fake, 'POST', '/groups', { displayName: 'x', mailEnabled: false, securityEnabled: true });
    expect(noNick.json.error.message).toBe("A value is required for property 'mailNickname' of resource 'Group'.");
    const gone = await graph(fake, 'GET', `/groups/${randomUUID()}`);
    expect(gone.status).toBe(404);
    expect(gone.json.error.code).toBe('Request_ResourceNotFound');
    expect(gone.json.error.innerError).toMatchObject({ 'request-id': expect.any(String), 'client-request-id': expect.any(String), date: expect.any(String) });
  });

  it('creates, patches and assigns device configurations with ids, timestamps and version', async () => {
    const created = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:baseline:ios'));
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ '@odata.type': '#microsoft.graph.iosGeneralDeviceConfiguration', displayName: 'emmctl:baseline:ios', version: 1, createdDateTime: new Date(now).toISOString() });
    const id = created.json.id as string;
    if (fake.schemaChecks) expect(created.json.cameraBlocked).toBe(false); // Intune returns every property, defaults included

    now += 60_000;
    const patched = await graph(fake, 'PATCH', `/deviceManagement/deviceConfigurations/${id}`, { '@odata.type': '#microsoft.graph.iosGeneralDeviceConfiguration', passcodeMinimumLength: 8 });
    expect(patched.status).toBe(204);
    const read = await graph(fake, 'GET', `/deviceManagement/deviceConfigurations('${id}')`);
    expect(read.json).toMatchObject({ passcodeMinimumLength: 8, version: 2, lastModifiedDateTime: new Date(now).toISOString(), createdDateTime: created.json.createdDateTime });
    const untyped = await graph(fake, 'PATCH', `/deviceManagement/deviceConfigurations/${id}`, { passcodeMinimumLength: 9 });
    expect(untyped.status).toBe(400);

    const g = await graph(fake, 'POST', '/groups', securityGroup('emmctl:ios'));
    const assign = await graph(fake, 'POST', `/deviceManagement/deviceConfigurations/${id}/assign`, {
      assignments: [{ target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: g.json.id } }, { target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } }],
    });
    expect(assign.status).toBe(200);
    expect(assign.json.value.map((a: { id: string }) => a.id)).toEqual([`${id}_${g.json.id}`, `${id}_${ALL_DEVICES_GROUP_ID}`]);
    const listed = await graph(fake, 'GET', `/deviceManagement/deviceConfigurations/${id}/assignments`);
    expect(listed.json.value).toHaveLength(2);
    const expanded = await graph(fake, 'GET', `/deviceManagement/deviceConfigurations?$expand=assignments&$filter=displayName eq 'emmctl:baseline:ios'`);
    expect(expanded.json.value[0].assignments).toHaveLength(2);
    // assign replaces the whole set.
    await graph(fake, 'POST', `/deviceManagement/deviceConfigurations/${id}/assign`, { assignments: [] });
    expect(fake.state.assignmentsOf(id)).toEqual([]);
    const missing = await graph(fake, 'POST', `/deviceManagement/deviceConfigurations/${id}/assign`, { assignments: [{ target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: randomUUID() } }] });
    expect(missing.status).toBe(400);
    expect((await graph(fake, 'DELETE', `/deviceManagement/deviceConfigurations/${id}`)).status).toBe(204);
    expect((await graph(fake, 'GET', `/deviceManagement/deviceConfigurations/${id}`)).status).toBe(404);
  });

  it('creates compliance policies only with exactly one block action, in Intune\'s nested error format', async () => {
    const none = await graph(fake, 'POST', '/deviceManagement/deviceCompliancePolicies', androidCompliance('emmctl:c:android', [{ actionType: 'retire', gracePeriodHours: 24 }]));
    expect(none.status).toBe(400);
    const inner = JSON.parse(none.json.error.message);
    expect(inner._version).toBe(3);
    expect(inner.Message).toMatch(/^A compliance policy must have exactly one scheduled action of type 'block' \(found 0\) - Operation ID \(for customer support\): /);
    expect(inner.Message).toContain(`Activity ID: ${none.headers['request-id']}`);
    expect(none.json.error.message).toContain('\r\n');
    const two = await graph(fake, 'POST', '/deviceManagement/deviceCompliancePolicies', androidCompliance('x', [{ actionType: 'block' }, { actionType: 'block', gracePeriodHours: 1 }]));
    expect(two.status).toBe(400);
    const noRules = await graph(fake, 'POST', '/deviceManagement/deviceCompliancePolicies', { ...androidCompliance('x'), scheduledActionsForRule: undefined });
    expect(noRules.status).toBe(400);

    const ok = await graph(fake, 'POST', '/deviceManagement/deviceCompliancePolicies', androidCompliance('emmctl:c:android', [{ actionType: 'block', gracePeriodHours: 72 }, { actionType: 'retire', gracePeriodHours: 720 }]));
    expect(ok.status).toBe(201);
    expect(ok.json.scheduledActionsForRule).toBeUndefined();
    const rules = await graph(fake, 'GET', `/deviceManagement/deviceCompliancePolicies/${ok.json.id}/scheduledActionsForRule?$expand=scheduledActionConfigurations`);
    expect(rules.json.value[0].scheduledActionConfigurations.map((c: { actionType: string; gracePeriodHours: number }) => [c.actionType, c.gracePeriodHours])).toEqual([['block', 72], ['retire', 720]]);
    const expanded = await graph(fake, 'GET', `/deviceManagement/deviceCompliancePolicies/${ok.json.id}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)`);
    expect(expanded.json.scheduledActionsForRule[0].scheduledActionConfigurations).toHaveLength(2);
    const patchNav = await graph(fake, 'PATCH', `/deviceManagement/deviceCompliancePolicies/${ok.json.id}`, { '@odata.type': '#microsoft.graph.androidWorkProfileCompliancePolicy', scheduledActionsForRule: [] });
    expect(patchNav.status).toBe(400);
    const resched = await graph(fake, 'POST', `/deviceManagement/deviceCompliancePolicies/${ok.json.id}/scheduleActionsForRules`, { deviceComplianceScheduledActionForRules: [{ ruleName: 'PasswordRequired', scheduledActionConfigurations: [{ actionType: 'block', gracePeriodHours: 24 }] }] });
    expect(resched.status).toBe(204);
    expect((await graph(fake, 'GET', `/deviceManagement/deviceCompliancePolicies/${ok.json.id}`)).json.version).toBe(2);
    await graph(fake, 'DELETE', `/deviceManagement/deviceCompliancePolicies/${ok.json.id}`);
  });

  it('evaluates assigned compliance policies into device complianceState, per-policy states and grace periods', async () => {
    const created = await graph(fake, 'POST', '/deviceManagement/deviceCompliancePolicies', androidCompliance('emmctl:eval:android', [{ actionType: 'block', gracePeriodHours: 72 }]));
    const id = created.json.id as string;
    await graph(fake, 'POST', `/deviceManagement/deviceCompliancePolicies/${id}/assign`, { assignments: [{ target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } }] });
    // A work-profile policy reaches personal Android devices only; fully managed ones need a device-owner policy.
    const android = fake.state.managedDevices().filter((d) => d.operatingSystem === 'Android' && d.managedDeviceOwnerType === 'personal');
    const failing = android.filter((d) => Number(String(d.osVersion).split('.')[0]) < 14 || d.isEncrypted !== true);
    expect(failing.length).toBeGreaterThan(0);
    const d = failing[0]!;
    const states = await graph(fake, 'GET', `/deviceManagement/managedDevices/${d.id}/deviceCompliancePolicyStates`);
    expect(states.json.value).toHaveLength(1);
    expect(states.json.value[0]).toMatchObject({ id, displayName: 'emmctl:eval:android', state: 'nonCompliant', platformType: 'android' });
    expect(states.json.value[0].settingStates.some((s: { state: string }) => s.state === 'nonCompliant')).toBe(true);
    // Within the 72 h grace period the device is inGracePeriod; after it, noncompliant.
    expect((await graph(fake, 'GET', `/deviceManagement/managedDevices/${d.id}`)).json.complianceState).toBe('inGracePeriod');
    now += 73 * 3_600_000;
    expect((await graph(fake, 'GET', `/deviceManagement/managedDevices/${d.id}`)).json.complianceState).toBe('noncompliant');
    const statuses = await listAll(fake, `/deviceManagement/deviceCompliancePolicies/${id}/deviceStatuses`);
    expect(statuses.items).toHaveLength(android.length);
    // Neither an iOS device nor a corporate (fully managed) Android device is reached by it.
    const ios = fake.state.managedDevices().find((x) => x.operatingSystem === 'iOS')!;
    expect((await graph(fake, 'GET', `/deviceManagement/managedDevices/${ios.id}/deviceCompliancePolicyStates`)).json.value).toEqual([]);
    const corporate = fake.state.managedDevices().find((x) => x.operatingSystem === 'Android' && x.managedDeviceOwnerType === 'company')!;
    expect((await graph(fake, 'GET', `/deviceManagement/managedDevices/${corporate.id}/deviceCompliancePolicyStates`)).json.value).toEqual([]);
    const owner = await graph(fake, 'POST', '/deviceManagement/deviceCompliancePolicies', { ...androidCompliance('emmctl:eval:android-owner'), '@odata.type': '#microsoft.graph.androidDeviceOwnerCompliancePolicy' }, { version: 'beta' });
    expect(owner.status).toBe(201);
    await graph(fake, 'POST', `/deviceManagement/deviceCompliancePolicies/${owner.json.id}/assign`, { assignments: [{ target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } }] }, { version: 'beta' });
    const corporateStates = await graph(fake, 'GET', `/deviceManagement/managedDevices/${corporate.id}/deviceCompliancePolicyStates`, undefined, { version: 'beta' });
    expect(corporateStates.json.value.map((x: { id: string }) => x.id)).toEqual([owner.json.id]);
    await graph(fake, 'DELETE', `/deviceManagement/deviceCompliancePolicies/${owner.json.id}`, undefined, { version: 'beta' });
    await graph(fake, 'DELETE', `/deviceManagement/deviceCompliancePolicies/${id}`);
  });

  it('takes device actions with 204, follows deviceActionResults over reads, and counts every action', async () => {
    const d = fake.state.managedDevices().find((x) => x.operatingSystem === 'iOS')!;
    const lock = await graph(fake, 'POST', `/deviceManagement/managedDevices/${d.id}/remoteLock`);
    expect(lock.status).toBe(204);
    expect(lock.text).toBe('');
    const states: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await graph(fake, 'GET', `/deviceManagement/managedDevices/${d.id}?$select=id,deviceActionResults`);
      states.push(r.json.deviceActionResults.find((a: { actionName: string }) => a.actionName === 'remoteLock').actionState);
    }
    expect(states).toEqual(['pending', 'done', 'done']);
    expect(fake.state.actionCount(String(d.id), 'remoteLock')).toBe(1);

    const win = fake.state.managedDevices().find((x) => x.operatingSystem === 'Windows')!;
    const winLock = await graph(fake, 'POST', `/deviceManagement/managedDevices/${win.id}/remoteLock`);
    expect(winLock.status).toBe(400);
    // A refused action still reached Intune: it is counted, marked as not accepted.
    expect(fake.state.actionLog.filter((a) => a.deviceId === win.id).map((a) => [a.action, a.accepted])).toEqual([['remoteLock', false]]);
    const wipe = await graph(fake, 'POST', `/deviceManagement/managedDevices/${win.id}/wipe`, { keepEnrollmentData: false, keepUserData: false });
    expect(wipe.status).toBe(204);
    expect((await graph(fake, 'GET', `/deviceManagement/managedDevices/${win.id}`)).json.managementState).toBe('wipePending');
    const again = await graph(fake, 'POST', `/deviceManagement/managedDevices/${win.id}/retire`);
    expect(again.status).toBe(400);
    expect(fake.state.actionCount(String(win.id), 'wipe')).toBe(1);
    expect(fake.state.actionCount(String(win.id))).toBe(3);
    const unknown = await graph(fake, 'POST', `/deviceManagement/managedDevices/${d.id}/selfDestruct`);
    expect(unknown.json.error.message).toBe("Resource not found for the segment 'selfDestruct'.");
  });

  it('imports Autopilot identities whose state completes on a later read; a duplicate serial ends in error 806', async () => {
    const body = { importedWindowsAutopilotDeviceIdentities: [{ '@odata.type': '#microsoft.graph.importedWindowsAutopilotDeviceIdentity', serialNumber: 'PF3ABC01', hardwareIdentifier: Buffer.from('hash-1').toString('base64'), groupTag: 'kiosk' }] };
    const r = await graph(fake, 'POST', '/deviceManagement/importedWindowsAutopilotDeviceIdentities/import', body);
    expect(r.status).toBe(200);
    expect(r.json.value[0].state.deviceImportStatus).toBe('pending');
    const read = await graph(fake, 'GET', `/deviceManagement/importedWindowsAutopilotDeviceIdentities/${r.json.value[0].id}`);
    expect(read.json.state.deviceImportStatus).toBe('complete');
    const dup = await graph(fake, 'POST', '/deviceManagement/importedWindowsAutopilotDeviceIdentities', body.importedWindowsAutopilotDeviceIdentities[0]);
    expect(dup.status).toBe(201);
    expect(dup.json.state).toMatchObject({ deviceImportStatus: 'error', deviceErrorCode: 806, deviceErrorName: 'ZtdDeviceAlreadyAssigned' });
  });

  it('has androidDeviceOwnerEnrollmentProfiles and createToken in beta only', async () => {
    const v1 = await graph(fake, 'POST', '/deviceManagement/androidDeviceOwnerEnrollmentProfiles', { displayName: 'x' });
    expect(v1.status).toBe(400);
    expect(v1.json.error.message).toBe("Resource not found for the segment 'androidDeviceOwnerEnrollmentProfiles'.");
    const p = await graph(fake, 'POST', '/deviceManagement/androidDeviceOwnerEnrollmentProfiles', { '@odata.type': '#microsoft.graph.androidDeviceOwnerEnrollmentProfile', displayName: 'emmctl:kiosk', enrollmentMode: 'corporateOwnedDedicatedDevice' }, { version: 'beta' });
    expect(p.status).toBe(201);
    expect(p.json.tokenValue).toBeNull();
    const t = await graph(fake, 'POST', `/deviceManagement/androidDeviceOwnerEnrollmentProfiles/${p.json.id}/createToken`, { tokenValidityInSeconds: 86_400 }, { version: 'beta' });
    expect(t.status).toBe(204);
    const read = await graph(fake, 'GET', `/deviceManagement/androidDeviceOwnerEnrollmentProfiles/${p.json.id}`, undefined, { version: 'beta' });
    expect(read.json.tokenValue).toMatch(/^[A-Z]{20}$/);
    expect(Date.parse(read.json.tokenExpirationDateTime) - Date.parse(read.json.tokenCreationDateTime)).toBe(86_400_000);
    expect(JSON.parse(read.json.qrCodeContent)['android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE']['com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN']).toBe(read.json.tokenValue);
    const bad = await graph(fake, 'POST', `/deviceManagement/androidDeviceOwnerEnrollmentProfiles/${p.json.id}/createToken`, { tokenValidity: 5 }, { version: 'beta' });
    expect(bad.status).toBe(400);
  });

  it('orders with $orderby, skips with $skip where Intune has it, expands group members, and refuses what it does not implement', async () => {
    const names = (await listAll(fake, '/deviceManagement/managedDevices?$orderby=deviceName desc&$select=id,deviceName')).items.map((d) => d.deviceName as string);
    expect(names).toEqual([...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? 1 : -1)));
    const all = (await listAll(fake, '/deviceManagement/managedDevices?$orderby=deviceName')).items.map((d) => d.id);
    const skipped = await graph(fake, 'GET', '/deviceManagement/managedDevices?$orderby=deviceName&$skip=3&$top=2');
    expect(skipped.json.value.map((d: { id: string }) => d.id)).toEqual(all.slice(3, 5));
    expect(skipped.json['@odata.nextLink']).not.toContain('$skip=');
    expect((await graph(fake, 'GET', '/groups?$skip=1')).json.error.message).toBe("'$skip' is not supported by the service.");
    const g = (await graph(fake, 'GET', "/groups?$filter=displayName eq 'emmctl:kiosks'")).json.value[0];
    const expanded = await graph(fake, 'GET', `/groups/${g.id}?$select=id&$expand=members($select=id,deviceId)`);
    expect(expanded.json.members).toHaveLength(2);
    expect(Object.keys(expanded.json.members[0]).sort()).toEqual(['@odata.type', 'deviceId', 'id']);
    const noNav = await graph(fake, 'GET', '/deviceManagement/managedDevices?$expand=users');
    expect(noNav.status).toBe(400);
    expect(noNav.json.error.message).toBe("Could not find a navigation property named 'users' on type 'microsoft.graph.managedDevice' that can be expanded.");
    expect((await graph(fake, 'GET', '/groups?$search="displayName:x"')).status).toBe(400);
    expect((await graph(fake, 'GET', '/groups?$format=json')).json.error.message).toBe("The query parameter '$format' is not supported.");
  });

  it.skipIf(!specsAvailable())('serves the v1.0 $metadata document', async () => {
    const r = await graph(fake, 'GET', '/$metadata');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/xml');
    expect(r.text).toContain('<EntityType Name="managedDevice"');
  });

  it('answers an unknown version or segment as Graph does', async () => {
    const v = await graph(fake, 'GET', `${fake.graphUrl}/deviceManagement/managedDevices`);
    expect(v.json.error).toMatchObject({ code: 'BadRequest', message: 'Invalid version: deviceManagement' });
    const seg = await graph(fake, 'GET', '/deviceManagement/noSuchThing');
    expect(seg.json.error.message).toBe("Resource not found for the segment 'noSuchThing'.");
    const json = await graph(fake, 'POST', '/groups', '{not json');
    expect(json.status).toBe(400);
    const ct = await graph(fake, 'POST', '/groups', JSON.stringify(securityGroup('x')), { headers: { 'Content-Type': 'text/plain' } });
    expect(ct.status).toBe(415);
    const echoed = await graph(fake, 'GET', '/groups', undefined, { headers: { 'client-request-id': 'abc-123' } });
    expect(echoed.headers['client-request-id']).toBe('abc-123');
  });
});

describe.skipIf(!specsAvailable())('schema refusal (every body checked against Graph metadata)', () => {
  let fake: FakeGraph;
  beforeAll(async () => {
    fake = await startFakeGraph({ devices: 2 });
  });
  afterAll(() => fake.close());

  it('refuses an invalid body with 400 and its problems, records it, and stores nothing', async () => {
    expect(fake.schemaChecks).toBe(true);
    const r = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:x:ios', { passcodeMinimumLenght: 6, cameraBlocked: 'yes' }));
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('BadRequest');
    expect(r.json.error.message).toBe("The property 'passcodeMinimumLenght' does not exist on type 'microsoft.graph.deviceConfiguration'. Make sure to only use property names that are defined by the type or mark the type as open type.");
    expect(r.json.error.details).toEqual([
      { code: 'SchemaViolation', target: 'passcodeMinimumLenght', message: 'expected a property of microsoft.graph.iosGeneralDeviceConfiguration (did you mean "passcodeMinimumLength"?); got unknown property "passcodeMinimumLenght"' },
      { code: 'SchemaViolation', target: 'cameraBlocked', message: 'expected Edm.Boolean; got string "yes"' },
    ]);
    expect(fake.schemaProblems).toHaveLength(1);
    expect(fake.schemaProblems[0]).toMatchObject({ method: 'POST', path: '/deviceManagement/deviceConfigurations', version: 'v1.0' });
    expect(fake.state.configurations()).toEqual([]);
  });

  it('checks action bodies, inner $batch bodies and the beta-only types by version', async () => {
    fake.schemaProblems.length = 0;
    const d = fake.state.managedDevices()[0]!;
    const wipe = await graph(fake, 'POST', `/deviceManagement/managedDevices/${d.id}/wipe`, { keepUserData: 'no' });
    expect(wipe.status).toBe(400);
    expect(fake.state.actionCount(String(d.id))).toBe(0);
    const batch = await graph(fake, 'POST', '/$batch', { requests: [{ id: '1', method: 'POST', url: '/groups', headers: { 'Content-Type': 'application/json' }, body: securityGroup('g', { securityEnabld: true }) }] });
    expect(batch.status).toBe(200);
    expect(batch.json.responses[0].status).toBe(400);
    const owner = { '@odata.type': '#microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration', displayName: 'emmctl:p:android-owner', cameraBlocked: true };
    expect((await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', owner)).status).toBe(400);
    const beta = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', owner, { version: 'beta' });
    expect(beta.status).toBe(201);
    expect(fake.schemaProblems.map((p) => p.path)).toEqual([`/deviceManagement/managedDevices/${d.id}/wipe`, '/groups', '/deviceManagement/deviceConfigurations']);
    // v1.0 does not show a beta-only type; beta does.
    expect((await graph(fake, 'GET', '/deviceManagement/deviceConfigurations')).json.value).toEqual([]);
    expect((await graph(fake, 'GET', '/deviceManagement/deviceConfigurations', undefined, { version: 'beta' })).json.value.map((c: { id: string }) => c.id)).toEqual([beta.json.id]);
    expect((await graph(fake, 'GET', `/deviceManagement/deviceConfigurations/${beta.json.id}`)).status).toBe(404);
  });
});

describe('without the vendor specs (schemaChecks: false)', () => {
  it('works, and accepts bodies it cannot check', async () => {
    const fake = await startFakeGraph({ schemaChecks: false, devices: 1 });
    try {
      const r = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('x', { passcodeMinimumLenght: 6 }));
      expect(r.status).toBe(201);
      expect(r.json.passcodeMinimumLenght).toBe(6);
      expect(fake.schemaProblems).toEqual([]);
      const noType = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', { displayName: 'x' });
      expect(noType.status).toBe(400);
    } finally {
      await fake.close();
    }
  });
});

describe('$batch', () => {
  let fake: FakeGraph;
  beforeAll(async () => {
    fake = await startFakeGraph({ devices: 3 });
  });
  afterAll(() => fake.close());

  const json = { 'Content-Type': 'application/json' };

  it('runs up to 20 requests with dependsOn, each with its own status, headers and body', async () => {
    const r = await graph(fake, 'POST', '/$batch', {
      requests: [
        { id: 'g', method: 'POST', url: '/groups', headers: json, body: securityGroup('emmctl:batch') },
        { id: 'c', method: 'POST', url: '/deviceManagement/deviceConfigurations', headers: json, body: iosConfig('emmctl:batch:ios'), dependsOn: ['g'] },
        { id: 'l', method: 'GET', url: "/groups?$filter=displayName eq 'emmctl:batch'", dependsOn: ['g'] },
        { id: 'x', method: 'GET', url: `/groups/${randomUUID()}` },
        { id: 'y', method: 'GET', url: '/deviceManagement/managedDevices', dependsOn: ['x'] },
      ],
    });
    expect(r.status).toBe(200);
    const byId = Object.fromEntries(r.json.responses.map((x: { id: string }) => [x.id, x]));
    expect(byId.g.status).toBe(201);
    expect(byId.g.headers['Content-Type']).toMatch(/^application\/json/);
    expect(byId.c.status).toBe(201);
    expect(byId.l.body.value.map((g: { id: string }) => g.id)).toEqual([byId.g.body.id]);
    expect(byId.x.status).toBe(404);
    expect(byId.y.status).toBe(424);
    // Graph promises no order: the fake answers in another one than asked.
    expect(r.json.responses.map((x: { id: string }) => x.id)).not.toEqual(['g', 'c', 'l', 'x', 'y']);
    expect(fake.requests.filter((q) => q.inBatch).length).toBe(4);
  });

  it('refuses more than 20 requests, duplicate ids, unknown dependsOn, absolute URLs and a body without Content-Type', async () => {
    const many = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/groups' }));
    const over = await graph(fake, 'POST', '/$batch', { requests: many });
    expect(over.status).toBe(400);
    expect(over.json.error.message).toBe('Limit of 20 requests in a batch exceeded.');
    expect((await graph(fake, 'POST', '/$batch', { requests: many.slice(0, 20) })).status).toBe(200);
    expect((await graph(fake, 'POST', '/$batch', { requests: [{ id: '1', method: 'GET', url: '/groups' }, { id: '1', method: 'GET', url: '/groups' }] })).status).toBe(400);
    expect((await graph(fake, 'POST', '/$batch', { requests: [{ id: '1', method: 'GET', url: '/groups', dependsOn: ['9'] }] })).status).toBe(400);
    expect((await graph(fake, 'POST', '/$batch', { requests: [{ id: '1', method: 'GET', url: `${fake.graphUrl}/v1.0/groups` }] })).status).toBe(400);
    const noCt = await graph(fake, 'POST', '/$batch', { requests: [{ id: '1', method: 'POST', url: '/groups', body: securityGroup('x') }] });
    expect(noCt.json.error.message).toBe('Write request id : 1 does not contain Content-Type header or body.');
    expect((await graph(fake, 'POST', '/$batch', { requests: [{ id: '1', method: 'POST', url: '/$batch', headers: json, body: { requests: [] } }] })).json.responses[0].status).toBe(400);
  });

  it('throttles inner requests with their own 429 and Retry-After', async () => {
    const f = fake.faults.throttle({ count: 2, retryAfterSeconds: 7, match: { inBatch: true } });
    const r = await graph(fake, 'POST', '/$batch', { requests: ['a', 'b', 'c'].map((id) => ({ id, method: 'GET', url: '/groups' })) });
    expect(r.status).toBe(200);
    const statuses = Object.fromEntries(r.json.responses.map((x: { id: string; status: number }) => [x.id, x.status]));
    expect(statuses).toEqual({ a: 429, b: 429, c: 200 });
    const t = r.json.responses.find((x: { id: string }) => x.id === 'a');
    expect(t.headers['Retry-After']).toBe('7');
    expect(t.body.error.code).toBe('TooManyRequests');
    expect(f.hits).toBe(2);
  });
});

describe('faults', () => {
  let fake: FakeGraph;
  let now = Date.parse('2026-03-02T09:00:00Z');
  beforeAll(async () => {
    fake = await startFakeGraph({ devices: 4, clock: () => now });
  });
  afterAll(() => fake.close());

  it('throttles the next N requests with 429 + Retry-After, then answers', async () => {
    fake.faults.throttle({ count: 2, retryAfterSeconds: 3 });
    const a = await graph(fake, 'GET', '/groups');
    const b = await graph(fake, 'GET', '/groups');
    const c = await graph(fake, 'GET', '/groups');
    expect([a.status, b.status, c.status]).toEqual([429, 429, 200]);
    expect(a.headers['retry-after']).toBe('3');
    expect(a.json.error).toMatchObject({ code: 'TooManyRequests', innerError: { code: '429', status: '429' } });
  });

  it('throttles a seeded fraction of requests in a storm, the same way for the same seed', async () => {
    const run = async () => {
      const f = fake.faults.throttle({ fraction: 0.5, seed: 42, match: { path: '/deviceManagement/managedDevices' } });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await graph(fake, 'GET', '/deviceManagement/managedDevices?$top=1')).status);
      f.clear();
      return statuses;
    };
    const first = await run();
    expect(first.filter((s) => s === 429).length).toBeGreaterThan(3);
    expect(first.filter((s) => s === 200).length).toBeGreaterThan(3);
    expect(await run()).toEqual(first);
    expect((await graph(fake, 'GET', '/groups')).status).toBe(200);
  });

  it('answers 503 and 504 for the next N requests', async () => {
    fake.faults.unavailable({ count: 1, status: 503, retryAfterSeconds: 2 });
    fake.faults.unavailable({ count: 1, status: 504 });
    const a = await graph(fake, 'GET', '/groups');
    const b = await graph(fake, 'GET', '/groups');
    expect([a.status, a.headers['retry-after'], a.json.error.code]).toEqual([503, '2', 'ServiceUnavailable']);
    expect([b.status, b.json.error.code]).toEqual([504, 'GatewayTimeout']);
    expect((await graph(fake, 'GET', '/groups')).status).toBe(200);
  });

  it('fails the Nth write without applying it, or applies it and loses the response', async () => {
    fake.faults.failWrite({ nth: 2 });
    const one = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:w1:ios'));
    const two = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:w2:ios'));
    const three = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:w3:ios'));
    expect([one.status, two.status, three.status]).toEqual([201, 500, 201]);
    expect(JSON.parse(two.json.error.message)._version).toBe(3);
    expect(fake.state.configurations().map((c) => c.displayName).sort()).toEqual(['emmctl:w1:ios', 'emmctl:w3:ios']);
    fake.faults.failWrite({ nth: 1, applied: true });
    const lost = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:w4:ios'));
    expect(lost.status).toBe(504);
    expect(fake.state.configurations().map((c) => c.displayName)).toContain('emmctl:w4:ios');
    // A dropped connection: no answer at all, applied or not.
    fake.faults.failWrite({ nth: 1, applied: true, drop: true });
    await expect(graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:w5:ios'))).rejects.toThrow(/socket hang up|ECONNRESET/);
    fake.faults.failWrite({ nth: 1, drop: true });
    await expect(graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:w6:ios'))).rejects.toThrow(/socket hang up|ECONNRESET/);
    const names = fake.state.configurations().map((c) => c.displayName);
    expect([names.includes('emmctl:w5:ios'), names.includes('emmctl:w6:ios')]).toEqual([true, false]);
    expect(fake.requests.filter((r) => r.status === 0 && r.host === 'graph')).toHaveLength(2);
  });

  it('keeps a new group invisible to reads and assignments for K requests (eventual consistency)', async () => {
    const f = fake.faults.groupVisibility({ requests: 2 });
    const g = await graph(fake, 'POST', '/groups', securityGroup('emmctl:late'));
    expect(g.status).toBe(201);
    f.clear();
    const cfg = fake.state.configurations()[0]!;
    const body = { assignments: [{ target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: g.json.id } }] };
    const early = await graph(fake, 'POST', `/deviceManagement/deviceConfigurations/${cfg.id}/assign`, body);
    expect(early.status).toBe(400);
    expect(JSON.parse(early.json.error.message).Message).toContain(`The group '${g.json.id}' was not found`);
    expect((await graph(fake, 'GET', `/groups/${g.json.id}`)).status).toBe(404);
    expect((await graph(fake, 'POST', `/deviceManagement/deviceConfigurations/${cfg.id}/assign`, body)).status).toBe(200);
  });

  it('keeps a new group invisible for a time on the clock', async () => {
    fake.faults.groupVisibility({ ms: 30_000 });
    const g = await graph(fake, 'POST', '/groups', securityGroup('emmctl:later'));
    fake.faults.clear();
    expect((await graph(fake, 'GET', `/groups/${g.json.id}`)).status).toBe(404);
    now += 30_000;
    expect((await graph(fake, 'GET', `/groups/${g.json.id}`)).status).toBe(200);
  });

  it('ends a device action in failed when told to', async () => {
    const d = fake.state.managedDevices().find((x) => x.operatingSystem !== 'Windows')!;
    fake.faults.failAction({ action: 'rebootNow', deviceId: String(d.id) });
    await graph(fake, 'POST', `/deviceManagement/managedDevices/${d.id}/rebootNow`);
    await graph(fake, 'GET', `/deviceManagement/managedDevices/${d.id}`);
    const r = await graph(fake, 'GET', `/deviceManagement/managedDevices/${d.id}`);
    expect(r.json.deviceActionResults.find((a: { actionName: string }) => a.actionName === 'rebootNow').actionState).toBe('failed');
    fake.faults.clear();
  });

  it('enforces Intune\'s 100 writes per 20 seconds per app with a 429 that says when to retry', async () => {
    now += 60_000;
    const start = now;
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      if (i === 50) now = start + 5_000;
      statuses.push((await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig(`emmctl:limit${i}:ios`))).status);
    }
    expect(statuses.every((s) => s === 201)).toBe(true);
    const over = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:over:ios'));
    expect(over.status).toBe(429);
    expect(over.headers['retry-after']).toBe('15');
    // Reads and device actions are not configuration writes.
    expect((await graph(fake, 'GET', '/deviceManagement/deviceConfigurations?$top=1')).status).toBe(200);
    now = start + 20_000;
    // The first 50 writes have left the window; the 50 made at +5 s have not.
    expect((await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:after:ios'))).status).toBe(201);
  });
});

describe.skipIf(!specsAvailable())('what the fake returns conforms to Graph metadata too', () => {
  // Responses carry read-only properties a request body would not, so they are checked as created
  // entities (deep insert allowed for expanded contained navigations) minus the OData control fields.
  const strip = (rec: Record<string, unknown>) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rec)) if (!k.startsWith('@odata.') || k === '@odata.type') out[k] = v;
    return out;
  };

  it('returns groups, devices, policies, assignments, device states, Autopilot and profiles Graph could return', async () => {
    const { checkBody } = await import('./graph-schema.js');
    const fake = await startFakeGraph({ devices: 12 });
    try {
      const g = await graph(fake, 'POST', '/groups', securityGroup('emmctl:conf', { groupTypes: ['DynamicMembership'], membershipRule: 'device.deviceOSType -eq "iPhone"', membershipRuleProcessingState: 'On' }));
      const cfg = await graph(fake, 'POST', '/deviceManagement/deviceConfigurations', iosConfig('emmctl:conf:ios'));
      const cp = await graph(fake, 'POST', '/deviceManagement/deviceCompliancePolicies', androidCompliance('emmctl:conf:android'));
      await graph(fake, 'POST', `/deviceManagement/deviceConfigurations/${cfg.json.id}/assign`, { assignments: [{ target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: g.json.id } }] });
      await graph(fake, 'POST', `/deviceManagement/deviceCompliancePolicies/${cp.json.id}/assign`, { assignments: [{ target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } }] });
      const dev = fake.addDevices([{ platform: 'android', ownership: 'personal' }])[0]!;
      await graph(fake, 'POST', `/deviceManagement/managedDevices/${dev.id}/rebootNow`);
      await graph(fake, 'POST', '/deviceManagement/importedWindowsAutopilotDeviceIdentities', { serialNumber: 'S1', hardwareIdentifier: 'aGFzaA==' });
      const checks: Array<[string, string, 'v1.0' | 'beta']> = [
        ['/groups', 'microsoft.graph.group', 'v1.0'],
        ['/devices', 'microsoft.graph.device', 'v1.0'],
        [`/groups/${g.json.id}/members`, 'microsoft.graph.directoryObject', 'v1.0'],
        ['/deviceManagement/deviceConfigurations?$expand=assignments', 'microsoft.graph.deviceConfiguration', 'v1.0'],
        ['/deviceManagement/deviceCompliancePolicies?$expand=assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)', 'microsoft.graph.deviceCompliancePolicy', 'v1.0'],
        [`/deviceManagement/deviceCompliancePolicies/${cp.json.id}/deviceStatuses`, 'microsoft.graph.deviceComplianceDeviceStatus', 'v1.0'],
        ['/deviceManagement/managedDevices', 'microsoft.graph.managedDevice', 'v1.0'],
        [`/deviceManagement/managedDevices/${dev.id}/deviceCompliancePolicyStates`, 'microsoft.graph.deviceCompliancePolicyState', 'v1.0'],
        ['/deviceManagement/importedWindowsAutopilotDeviceIdentities', 'microsoft.graph.importedWindowsAutopilotDeviceIdentity', 'v1.0'],
        ['/deviceManagement/deviceConfigurations', 'microsoft.graph.deviceConfiguration', 'beta'],
      ];
      let checked = 0;
      for (const [path, type, version] of checks) {
        const { items } = await listAll(fake, path, { version });
        expect(items.length, path).toBeGreaterThan(0);
        for (const item of items) {
          expect(checkBody(version, type, strip(item)), `${version} ${path}`).toEqual([]);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(30);
      const p = await graph(fake, 'POST', '/deviceManagement/androidDeviceOwnerEnrollmentProfiles', { displayName: 'emmctl:k', enrollmentMode: 'corporateOwnedFullyManaged' }, { version: 'beta' });
      await graph(fake, 'POST', `/deviceManagement/androidDeviceOwnerEnrollmentProfiles/${p.json.id}/createToken`, { tokenValidityInSeconds: 3600 }, { version: 'beta' });
      const read = await graph(fake, 'GET', `/deviceManagement/androidDeviceOwnerEnrollmentProfiles/${p.json.id}`, undefined, { version: 'beta' });
      expect(checkBody('beta', 'microsoft.graph.androidDeviceOwnerEnrollmentProfile', strip(read.json))).toEqual([]);
    } finally {
      await fake.close();
    }
  });
});

describe('tenant changes from the test', () => {
  it('adds devices and changes a device posture, re-evaluated on the next read', async () => {
    const fake = await startFakeGraph({ devices: 2 });
    try {
      const [added] = fake.addDevices([{ platform: 'android', ownership: 'personal', posture: { osVersion: '12', isEncrypted: true, passcodeSet: true, jailBroken: false } }]);
      expect(fake.state.managedDevices()).toHaveLength(3);
      const cp = await graph(fake, 'POST', '/deviceManagement/deviceCompliancePolicies', androidCompliance('emmctl:upd:android'));
      await graph(fake, 'POST', `/deviceManagement/deviceCompliancePolicies/${cp.json.id}/assign`, { assignments: [{ target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } }] });
      expect((await graph(fake, 'GET', `/deviceManagement/managedDevices/${added!.id}`)).json.complianceState).toBe('noncompliant');
      fake.state.updateDevice(String(added!.id), { posture: { osVersion: '15' } });
      const after = await graph(fake, 'GET', `/deviceManagement/managedDevices/${added!.id}`);
      expect([after.json.complianceState, after.json.osVersion]).toEqual(['compliant', '15']);
    } finally {
      await fake.close();
    }
  });
});
