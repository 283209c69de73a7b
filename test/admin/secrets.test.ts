// Secret values are write-only (issue 7, item 5): no admin route and no command shows them, on
// either backend; only the device's own check-in receives them; export writes the reference back.
// A real `emmctl server` child over the same data dir the embedded runs use.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandbox, SECRET, startServer, type RunningServer, type Sandbox } from '../plan/fixtures.js';
import { call, checkIn, createToken } from '../server/helpers.js';

let sb: Sandbox;
let server: RunningServer;
let dataDir: string;
let viewer: string;
let deviceId: string;
let credential: string;

beforeAll(async () => {
  sb = sandbox();
  dataDir = join(sb.root, 'server-data');
  server = await startServer(dataDir);
  viewer = await createToken(dataDir, 'viewer', 'secrets-viewer');
  const apply = await sb.cli(['apply', '--yes'], { env: { EMMCTL_DATA_DIR: undefined, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: server.token } });
  expect(apply.code, apply.stderr).toBe(0);
  const token = await call(server.url, 'POST', '/v1/enrollment-tokens', { token: server.token, body: { profile: 'corp' } });
  expect(token.status).toBe(200);
  const enrolled = await call(server.url, 'POST', '/v1/agent/enroll', { body: { token: token.body.secret, platform: 'android', serial: 'SN-SECRET-1', osVersion: '14', name: 'wifi-phone' } });
  expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(200);
  ({ deviceId, credential } = enrolled.body);
});
afterAll(async () => {
  await server?.stop();
  sb?.cleanup();
});

const overHttp = (token: string) => ({ env: { EMMCTL_DATA_DIR: undefined, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token } });
const embedded = () => ({ env: { EMMCTL_DATA_DIR: dataDir } });

describe('secret values are write-only', () => {
  it('the device check-in receives the value', async () => {
    const r = await checkIn(server.url, credential);
    expect(r.status).toBe(200);
    expect(r.body.configuration.settings.wifi).toEqual([expect.objectContaining({ ssid: 'corp', password: SECRET })]);
  });

  it('no admin route returns it, to a viewer or to an admin', async () => {
    const routes = ['/v1/resources', '/v1/resources?kind=Policy', `/v1/devices/${deviceId}`, '/v1/devices', '/v1/compliance', '/v1/audit', '/v1/commands', '/v1/whoami', '/v1/openapi.json'];
    for (const token of [viewer, server.token]) {
      for (const path of routes) {
        const r = await call(server.url, 'GET', path, { token });
        expect(r.status, path).toBe(200);
        expect(JSON.stringify(r.body), path).not.toContain(SECRET);
      }
    }
    // What they get instead: the reference in the document, a digest beside it, (sensitive) in device views.
    const resources = await call(server.url, 'GET', '/v1/resources?kind=Policy', { token: viewer });
    const policy = resources.body.items.find((r: { name: string }) => r.name === 'android-baseline');
    expect(policy.document.spec.settings.wifi[0].password).toBe('${env:CORP_WIFI_PSK}');
    expect(policy.secrets).toEqual([{ path: 'spec.settings.wifi[0].password', ref: '${env:CORP_WIFI_PSK}', digest: expect.stringMatching(/^scrypt1\$/) }]);
    const device = await call(server.url, 'GET', `/v1/devices/${deviceId}`, { token: viewer });
    expect(device.body.effectiveConfiguration.settings.wifi[0].password).toBe('(sensitive)');
  });

  it('devices show prints (sensitive) in text, json and yaml, on both backends', async () => {
    for (const [backend, opts] of [['http', overHttp(viewer)], ['embedded', embedded()]] as const) {
      for (const output of [[], ['-o', 'json'], ['-o', 'yaml']]) {
        const r = await sb.cli(['devices', 'show', deviceId, ...output], opts);
        expect(r.code, `${backend} ${output.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.stdout + r.stderr, `${backend} ${output.join(' ')}`).not.toContain(SECRET);
        expect(r.stdout, `${backend} ${output.join(' ')}`).toContain('(sensitive)');
      }
      const json = JSON.parse((await sb.cli(['devices', 'show', deviceId, '-o', 'json'], opts)).stdout);
      expect(json.effectiveConfiguration.settings.wifi[0]).toMatchObject({ ssid: 'corp', password: '(sensitive)' });
    }
  });

  it('plan -o json and export show references only; export writes back the original reference', async () => {
    for (const opts of [overHttp(viewer), embedded()]) {
      const plan = await sb.cli(['plan', '-o', 'json'], opts);
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).not.toContain(SECRET);
      const exported = await sb.cli(['export'], opts);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout).not.toContain(SECRET);
      expect(exported.stdout).toContain('password: ${env:CORP_WIFI_PSK}');
      expect(exported.stderr).not.toContain('POLICY_ANDROID_BASELINE');
    }
  });

  it('a rotated value is seen by plan (masked), applied, and reaches the device', async () => {
    const rotated = 'rotated-psk-value-2';
    const plan = await sb.cli(['plan', '--detailed-exitcode'], { ...overHttp(server.token), env: { ...overHttp(server.token).env, CORP_WIFI_PSK: rotated } });
    expect(plan.code, plan.stderr).toBe(4);
    expect(plan.stdout).toContain('~ spec.settings.wifi[0].password: "(sensitive)" → "(sensitive)"');
    expect(plan.stdout).not.toContain(rotated);
    const apply = await sb.cli(['apply', '--yes'], { env: { ...overHttp(server.token).env, CORP_WIFI_PSK: rotated } });
    expect(apply.code, apply.stderr).toBe(0);
    expect((await checkIn(server.url, credential)).body.configuration.settings.wifi[0].password).toBe(rotated);
    const resources = await call(server.url, 'GET', '/v1/resources', { token: viewer });
    expect(JSON.stringify(resources.body)).not.toContain(rotated);
  });

  it('the API refuses a secret value written into the document itself', async () => {
    const doc = {
      apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name: 'literal-psk' },
      spec: { assign: ['all'], settings: { wifi: [{ ssid: 'x', security: 'wpa2-personal', password: 'plain-text-psk' }] } },
    };
    const r = await call(server.url, 'POST', '/v1/resources/apply', { token: server.token, body: { changes: [{ op: 'create', kind: 'Policy', name: 'literal-psk', document: doc }] } });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    const listed = await call(server.url, 'GET', '/v1/resources', { token: viewer });
    expect(JSON.stringify(listed.body)).not.toContain('plain-text-psk');
  });
});
