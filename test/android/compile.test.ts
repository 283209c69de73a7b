// The Android policy compiler: an emmctl effective configuration and a device mode in, one AMAPI
// Policy out. The mapping assertions run everywhere; every compiled body is also checked against
// Google's discovery schema when ../shared/vendor-specs is there (skipped cleanly otherwise).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/agent/fleet.js';
import { compilePolicy, COMPILER_REVISION, MAX_APPLICATIONS, parsePolicyId, policyIdFor, policyName, type AndroidDeviceMode, type CompiledPolicy } from '../../src/channels/android/compile.js';
import { effectiveConfiguration } from '../../src/compliance/merge.js';
import type { PolicySettings } from '../../src/model/policy.generated.js';
import { getPath } from '../../src/model/secrets.js';
import { ROOT } from '../helpers/cli.js';
import { policy } from '../compliance/fixtures.js';
import { checkAmapi, specsAvailable } from './amapi-schema.js';

const FULLY_MANAGED: AndroidDeviceMode = { ownership: 'corporate', managementMode: 'fully-managed' };
const COPE: AndroidDeviceMode = { ownership: 'corporate', managementMode: 'work-profile' };
const BYOD: AndroidDeviceMode = { ownership: 'personal', managementMode: 'work-profile' };
const MODES = [FULLY_MANAGED, COPE, BYOD];
const SCHEMA_CHECKS = specsAvailable();

/** Compile settings as one Policy merged by emmctl's own merge, and hold the body to Google's schema. */
function compile(settings: PolicySettings | Record<string, unknown>, mode: AndroidDeviceMode = FULLY_MANAGED, wifiPassphrases?: Map<string, string>): CompiledPolicy {
  const configuration = effectiveConfiguration([policy('p', settings as PolicySettings)]);
  const out = compilePolicy({ configuration, mode, wifiPassphrases });
  if (SCHEMA_CHECKS) expect(checkAmapi('Policy', out.policy), JSON.stringify(out.policy)).toEqual([]);
  return out;
}

const BASE = {
  statusReportingSettings: { softwareInfoEnabled: true, deviceSettingsEnabled: true, applicationReportsEnabled: true },
  playStoreMode: 'BLACKLIST',
};

describe('compilePolicy: the mapping', () => {
  it('turns on status reports and BLACKLIST on every policy, and leaves USB unrestricted on company-owned devices unless told', () => {
    expect(compile({}, FULLY_MANAGED).policy).toEqual({ deviceConnectivityManagement: { usbDataAccess: 'ALLOW_USB_DATA_TRANSFER' }, ...BASE });
    expect(compile({}, COPE).policy).toEqual({ deviceConnectivityManagement: { usbDataAccess: 'ALLOW_USB_DATA_TRANSFER' }, ...BASE });
    expect(compile({}, BYOD).policy).toEqual(BASE);
    expect(compile({}).unmappable).toEqual([]);
  });

  it('maps passcode rules to one passwordPolicies entry, scoped to the device (corporate) or the work profile (personal)', () => {
    const passcode = { required: true, quality: 'numeric-complex', minLength: 6, maxFailedAttempts: 10, expirationDays: 90, historyLength: 5 } as const;
    const want = { passwordQuality: 'NUMERIC_COMPLEX', passwordMinimumLength: 6, maximumFailedPasswordsForWipe: 10, passwordExpirationTimeout: '7776000s', passwordHistoryLength: 5 };
    expect(compile({ passcode }, FULLY_MANAGED).policy.passwordPolicies).toEqual([{ passwordScope: 'SCOPE_DEVICE', ...want }]);
    expect(compile({ passcode }, COPE).policy.passwordPolicies).toEqual([{ passwordScope: 'SCOPE_DEVICE', ...want }]);
    expect(compile({ passcode }, BYOD).policy.passwordPolicies).toEqual([{ passwordScope: 'SCOPE_PROFILE', ...want }]);
  });

  it('maps each passcode quality, and required alone to SOMETHING', () => {
    const q = (quality: string) => compile({ passcode: { quality } }).policy.passwordPolicies?.[0]?.passwordQuality;
    expect(['any', 'numeric', 'numeric-complex', 'alphabetic', 'alphanumeric', 'complex'].map(q)).toEqual(['SOMETHING', 'NUMERIC', 'NUMERIC_COMPLEX', 'ALPHABETIC', 'ALPHANUMERIC', 'COMPLEX']);
    expect(compile({ passcode: { required: true } }).policy.passwordPolicies).toEqual([{ passwordScope: 'SCOPE_DEVICE', passwordQuality: 'SOMETHING' }]);
    expect(compile({ passcode: { required: false } }).policy.passwordPolicies).toBeUndefined();
    expect(compile({ passcode: { expirationDays: 0 } }).policy.passwordPolicies).toBeUndefined();
  });

  it('reports a minimum length Android would not enforce (no quality, or any) instead of sending it', () => {
    const out = compile({ passcode: { required: true, minLength: 8 } });
    expect(out.policy.passwordPolicies).toEqual([{ passwordScope: 'SCOPE_DEVICE', passwordQuality: 'SOMETHING' }]);
    expect(out.unmappable).toEqual([{ path: 'passcode.minLength', ruleId: 'android/unmappable', reason: expect.stringContaining('quality numeric or stronger') }]);
  });

  it('maps screen lock in milliseconds as an int64 string, encryption, camera, screen capture, bluetooth and USB', () => {
    const on = compile({ screenLock: { maxTimeoutSeconds: 300 }, encryption: 'required', camera: 'disabled', screenCapture: 'disabled', bluetooth: 'disabled', usbFileTransfer: 'disabled' }).policy;
    expect(on).toMatchObject({ maximumTimeToLock: '300000', encryptionPolicy: 'ENABLED_WITHOUT_PASSWORD', cameraAccess: 'CAMERA_ACCESS_DISABLED', screenCaptureDisabled: true, bluetoothDisabled: true, deviceConnectivityManagement: { usbDataAccess: 'DISALLOW_USB_FILE_TRANSFER' } });
    const off = compile({ encryption: 'optional', camera: 'enabled', screenCapture: 'enabled', bluetooth: 'enabled', usbFileTransfer: 'enabled' }).policy;
    expect(off).toEqual({ cameraAccess: 'CAMERA_ACCESS_USER_CHOICE', screenCaptureDisabled: false, bluetoothDisabled: false, deviceConnectivityManagement: { usbDataAccess: 'ALLOW_USB_DATA_TRANSFER' }, ...BASE });
  });

  it('reports USB control on a personal device: AMAPI has it for company-owned devices only', () => {
    const out = compile({ usbFileTransfer: 'disabled' }, BYOD);
    expect(out.policy.deviceConnectivityManagement).toBeUndefined();
    expect(out.unmappable).toEqual([{ path: 'usbFileTransfer', ruleId: 'android/management-mode', reason: expect.stringContaining('company-owned') }]);
  });

  it('maps required apps to FORCE_INSTALLED and blocked ones to BLOCKED, sorted by package, and reports ids that are not Android packages', () => {
    const out = compile({ apps: { required: ['com.microsoft.teams', 'com.company.portal', 'Microsoft.Teams_8wekyb3d8bbwe!App'], blocked: ['com.example.game'] } });
    expect(out.policy.applications).toEqual([
      { packageName: 'com.company.portal', installType: 'FORCE_INSTALLED' },
      { packageName: 'com.example.game', installType: 'BLOCKED' },
      { packageName: 'com.microsoft.teams', installType: 'FORCE_INSTALLED' },
    ]);
    expect(out.unmappable).toEqual([{ path: 'apps.required[Microsoft.Teams_8wekyb3d8bbwe!App]', ruleId: 'android/invalid-value', reason: expect.stringContaining('not an Android package name') }]);
    expect(out.mapped.filter((m) => m.path.startsWith('apps.'))).toEqual([
      { path: 'apps.required[com.company.portal]', field: 'applications[0]' },
      { path: 'apps.blocked[com.example.game]', field: 'applications[1]' },
      { path: 'apps.required[com.microsoft.teams]', field: 'applications[2]' },
    ]);
  });

  it('keeps to AMAPI\'s 3,000 applications, blocked apps first, and reports the rest', () => {
    const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `com.${prefix}.app${String(i).padStart(4, '0')}`);
    const out = compilePolicy({ configuration: effectiveConfiguration([policy('p', { apps: { required: ids('req', 2000), blocked: ids('blk', 1500) } })]), mode: FULLY_MANAGED });
    expect(out.policy.applications).toHaveLength(MAX_APPLICATIONS);
    expect(out.policy.applications!.filter((a) => a.installType === 'BLOCKED')).toHaveLength(1500);
    expect(out.unmappable).toHaveLength(500);
    expect(out.unmappable.every((u) => u.path.startsWith('apps.required[') && u.ruleId === 'android/unmappable')).toBe(true);
  });

  it('maps an always-on VPN with its lockdown, and reports a VPN AMAPI cannot configure', () => {
    expect(compile({ vpn: { app: 'com.cisco.anyconnect.vpn.android.avf', alwaysOn: true, lockdown: true } }).policy.alwaysOnVpnPackage).toEqual({ packageName: 'com.cisco.anyconnect.vpn.android.avf', lockdownEnabled: true });
    expect(compile({ vpn: { app: 'com.vpn.client', alwaysOn: true } }).policy.alwaysOnVpnPackage).toEqual({ packageName: 'com.vpn.client', lockdownEnabled: false });
    const noAlwaysOn = compile({ vpn: { app: 'com.vpn.client' } });
    expect(noAlwaysOn.policy.alwaysOnVpnPackage).toBeUndefined();
    expect(noAlwaysOn.unmappable).toEqual([{ path: 'vpn.app', ruleId: 'android/unmappable', reason: expect.stringContaining('only as the always-on VPN') }]);
    const noApp = compile({ vpn: { alwaysOn: true, lockdown: true } });
    expect(noApp.policy.alwaysOnVpnPackage).toBeUndefined();
    expect(noApp.unmappable.map((u) => u.path)).toEqual(['vpn.alwaysOn', 'vpn.lockdown']);
  });

  it('maps open and WPA2-Personal Wi-Fi to Open Network Configuration, the key taken from the resolved secret', () => {
    const keys = new Map([['Corp', 'correct horse battery staple']]);
    const out = compile({ wifi: [{ ssid: 'Corp', security: 'wpa2-personal', password: '${env:CORP_PSK}', autoConnect: true }, { ssid: 'Guest', security: 'open', hidden: true }] }, FULLY_MANAGED, keys);
    const nets = out.policy.openNetworkConfiguration!.NetworkConfigurations;
    expect(out.policy.openNetworkConfiguration!.Type).toBe('UnencryptedConfiguration');
    expect(nets.map((n) => ({ ...n, GUID: typeof n.GUID }))).toEqual([
      { GUID: 'string', Name: 'Corp', Type: 'WiFi', WiFi: { SSID: 'Corp', Security: 'WPA-PSK', Passphrase: 'correct horse battery staple', AutoConnect: true } },
      { GUID: 'string', Name: 'Guest', Type: 'WiFi', WiFi: { SSID: 'Guest', Security: 'None', HiddenSSID: true } },
    ]);
    expect(new Set(nets.map((n) => n.GUID)).size).toBe(2);
    expect(out.unmappable).toEqual([]);
  });

  it('never sends a network weaker than written: WPA3-Personal and enterprise networks, a missing or malformed key, are reported whole', () => {
    const keys = new Map([['Short', 'abc'], ['Good', '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef']]);
    const out = compile({
      wifi: [
        { ssid: 'W3', security: 'wpa3-personal', password: '${env:A}' },
        { ssid: 'E2', security: 'wpa2-enterprise' },
        { ssid: 'E3', security: 'wpa3-enterprise' },
        { ssid: 'NoKey', security: 'wpa2-personal', password: '${env:B}' },
        { ssid: 'Short', security: 'wpa2-personal', password: '${env:C}' },
        { ssid: 'Good', security: 'wpa2-personal', password: '${env:D}' },
      ],
    }, FULLY_MANAGED, keys);
    expect(out.policy.openNetworkConfiguration!.NetworkConfigurations.map((n) => n.Name)).toEqual(['Good']);
    expect(out.unmappable.map((u) => [u.path, u.ruleId])).toEqual([
      ['wifi[E2]', 'android/unmappable'],
      ['wifi[E3]', 'android/unmappable'],
      ['wifi[NoKey]', 'android/invalid-value'],
      ['wifi[Short]', 'android/invalid-value'],
      ['wifi[W3]', 'android/unmappable'],
    ]);
    // The reasons say what is wrong with a key without ever quoting it.
    expect(JSON.stringify(out.unmappable)).not.toContain('abc"');
    expect(out.unmappable.find((u) => u.path === 'wifi[Short]')!.reason).toBe('its pre-shared key (password) is not 8 to 63 printable ASCII characters or 64 hex digits; the network is not configured');
    expect(out.unmappable.find((u) => u.path === 'wifi[NoKey]')!.reason).toBe('no pre-shared key (password) was resolved for it; the network is not configured');
  });

  it('keeps the key out of everything but the Passphrase: not in the policy id, the trace or the reports', () => {
    const secret = 'Sup3r-Secret-Key-9f8e7d';
    const out = compile({ wifi: [{ ssid: 'Corp', security: 'wpa2-personal', password: '${env:CORP_PSK}' }, { ssid: 'Open', security: 'open', password: '${env:OTHER}' }] }, FULLY_MANAGED, new Map([['Corp', secret], ['Open', secret]]));
    const body = JSON.stringify(out.policy);
    expect(body.split(secret)).toHaveLength(2);
    expect(JSON.stringify({ id: out.policyId, mapped: out.mapped, unmappable: out.unmappable })).not.toContain(secret);
    expect(out.unmappable).toEqual([{ path: 'wifi[Open].password', ruleId: 'android/invalid-value', reason: 'an open network takes no pre-shared key; the key is not sent' }]);
  });

  it('maps OS updates: automatic, postponed, a daily window in minutes after midnight, manual as the device default', () => {
    expect(compile({ osUpdates: { mode: 'automatic' } }).policy.systemUpdate).toEqual({ type: 'AUTOMATIC' });
    expect(compile({ osUpdates: { mode: 'windowed', window: { start: '02:30', end: '04:00' } } }).policy.systemUpdate).toEqual({ type: 'WINDOWED', startMinutes: 150, endMinutes: 240 });
    expect(compile({ osUpdates: { mode: 'windowed', window: { start: '23:00', end: '01:00', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] } } }).unmappable).toEqual([]);
    const manual = compile({ osUpdates: { mode: 'manual' } });
    expect(manual.policy.systemUpdate).toBeUndefined();
    expect(manual.mapped).toEqual([{ path: 'osUpdates.mode', field: null }]);
  });

  it('reports what AMAPI\'s update policy cannot say: window days, postponeDays, a window under 30 minutes, a window without windowed mode', () => {
    const days = compile({ osUpdates: { mode: 'windowed', window: { start: '01:00', end: '03:00', days: ['sat', 'sun'] } } });
    expect(days.policy.systemUpdate).toEqual({ type: 'WINDOWED', startMinutes: 60, endMinutes: 180 });
    expect(days.unmappable).toEqual([{ path: 'osUpdates.window.days', ruleId: 'android/unmappable', reason: expect.stringContaining('every day') }]);
    const postpone = compile({ osUpdates: { mode: 'postponed', postponeDays: 14 } });
    expect(postpone.policy.systemUpdate).toEqual({ type: 'POSTPONE' });
    expect(postpone.unmappable).toEqual([{ path: 'osUpdates.postponeDays', ruleId: 'android/unmappable', reason: expect.stringContaining('30 days') }]);
    expect(compile({ osUpdates: { mode: 'windowed', window: { start: '01:00', end: '01:10' } } }).unmappable).toEqual([{ path: 'osUpdates.window', ruleId: 'android/unmappable', reason: 'the window is 10 minutes long; AMAPI extends a window shorter than 30 minutes to 30 minutes from its start' }]);
    expect(compile({ osUpdates: { mode: 'automatic', window: { start: '01:00', end: '03:00' }, postponeDays: 3 } }).unmappable.map((u) => u.path)).toEqual(['osUpdates.window', 'osUpdates.postponeDays']);
    const noWindow = compile({ osUpdates: { mode: 'windowed' } });
    expect(noWindow.policy.systemUpdate).toBeUndefined();
    expect(noWindow.unmappable).toEqual([{ path: 'osUpdates.mode', ruleId: 'android/invalid-value', reason: expect.stringContaining('without a window') }]);
  });

  it('reports a setting it does not know (a newer schema) instead of dropping it', () => {
    const configuration = { version: '0123456789abcdef', settings: { nfc: 'disabled', passcode: { biometrics: 'weak', required: true }, camera: 'user-choice' }, sources: {} };
    const out = compilePolicy({ configuration, mode: FULLY_MANAGED });
    expect(out.unmappable).toEqual([
      { path: 'nfc', ruleId: 'android/unknown-setting', reason: `emmctl setting nfc is not known to the Android compiler (revision ${COMPILER_REVISION}); not sent` },
      { path: 'passcode.biometrics', ruleId: 'android/unknown-setting', reason: expect.stringContaining('not known') },
      { path: 'camera', ruleId: 'android/unknown-setting', reason: `camera "user-choice" is not known to the Android compiler (revision ${COMPILER_REVISION}); not sent` },
    ]);
    expect(out.policy.cameraAccess).toBeUndefined();
  });

  it('gives equal configurations in one mode byte-equal bodies and one policy id, whatever the policies\' order', () => {
    const a = policy('a', { camera: 'disabled', passcode: { minLength: 6, quality: 'numeric' } });
    const b = policy('b', { bluetooth: 'disabled', apps: { required: ['com.x.y'] } }, { priority: 200 });
    const one = compilePolicy({ configuration: effectiveConfiguration([a, b]), mode: COPE });
    const two = compilePolicy({ configuration: effectiveConfiguration([b, a]), mode: COPE });
    expect(JSON.stringify(two)).toBe(JSON.stringify(one));
    expect(compilePolicy({ configuration: effectiveConfiguration([a, b]), mode: BYOD }).policyId).not.toBe(one.policyId);
  });
});

describe('policy ids', () => {
  it('derives the id from the compiler revision, the device mode and the configuration hash, within the policy name rules', () => {
    expect(policyIdFor('0123456789abcdef', FULLY_MANAGED)).toBe(`emmctl-r${COMPILER_REVISION}-fm-0123456789abcdef`);
    expect(policyIdFor('0123456789abcdef', COPE)).toBe(`emmctl-r${COMPILER_REVISION}-wpc-0123456789abcdef`);
    expect(policyIdFor('0123456789abcdef', BYOD)).toBe(`emmctl-r${COMPILER_REVISION}-wpp-0123456789abcdef`);
    expect(policyName('enterprises/LC0123abcd', policyIdFor('0123456789abcdef', BYOD))).toMatch(/^enterprises\/[^/]+\/policies\/[^/]+$/);
  });

  it('reads its own ids and names back, and nobody else\'s', () => {
    const id = policyIdFor('fedcba9876543210', BYOD);
    expect(parsePolicyId(id)).toEqual({ revision: COMPILER_REVISION, mode: BYOD, configurationVersion: 'fedcba9876543210' });
    expect(parsePolicyId(policyName('enterprises/LC0123abcd', id))?.configurationVersion).toBe('fedcba9876543210');
    for (const other of ['default', 'enterprises/LC0123abcd/policies/default', 'emmctl-r1-xx-0123456789abcdef', 'emmctl-r1-fm-0123456789ABCDEF', 'emmctl-r1-fm-0123', 'enterprises/E/devices/emmctl-r1-fm-0123456789abcdef', `${id}/x`]) {
      expect(parsePolicyId(other), other).toBeUndefined();
    }
  });

  it('refuses a device mode AMAPI does not have and a version that is not emmctl\'s hash', () => {
    expect(() => policyIdFor('0123456789abcdef', { ownership: 'personal', managementMode: 'fully-managed' })).toThrow('company-owned');
    expect(() => policyIdFor('../default', FULLY_MANAGED)).toThrow('16 hex digits');
  });
});

// ---- every setting of the schema is mapped or reported ----------------------------------------

interface Leaf {
  /** `passcode.minLength`, `wifi[].security`, `apps.required`. */
  path: string;
  values: unknown[];
}
type Node = Record<string, unknown>;

const emmSchema = JSON.parse(readFileSync(join(ROOT, 'schema', 'emmctl.schema.json'), 'utf8')) as { $id: string; $defs: Record<string, Node> };
const deref = (n: Node): Node => (typeof n.$ref === 'string' ? { ...emmSchema.$defs[n.$ref.replace('#/$defs/', '')]!, ...n, $ref: undefined } : n);

/** Sample valid values of a leaf: every enum value, both booleans, integer bounds, one string of the right shape. */
function samples(n: Node, path: string): unknown[] {
  n = deref(n);
  if (Array.isArray(n.enum)) return n.enum;
  if (n.type === 'boolean') return [true, false];
  if (n.type === 'integer') return [...new Set([n.minimum as number, n.maximum as number, 30])].filter((v) => v >= (n.minimum as number) && v <= (n.maximum as number));
  if (n.type === 'array') {
    const items = deref(n.items as Node);
    return Array.isArray(items.enum) ? [items.enum, [items.enum[0]]] : [samples(items, path).slice(0, 1)];
  }
  if (n.type === 'string') {
    if (/(^|\.)password$/.test(path)) return ['${env:WIFI_PSK}'];
    if (/(^|\.)(start|end)$/.test(path)) return ['02:00', '02:10'];
    if (/(^|\.)ssid$/.test(path)) return ['Corp'];
    return ['com.example.app'];
  }
  throw new Error(`no samples for ${path}`);
}

function leaves(n: Node, path: string): Leaf[] {
  n = deref(n);
  if (n.type === 'object' && n.properties) return Object.entries(n.properties as Record<string, Node>).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k));
  if (n.type === 'array' && deref(n.items as Node).type === 'object') return leaves(n.items as Node, `${path}[]`);
  return [{ path, values: samples(n, path) }];
}

/**
 * Settings holding `value` at the leaf `path`, with every required member around it filled in —
 * once for each value of a required enum sibling (wifi security, osUpdates mode), so a leaf is
 * tried in each context that changes its meaning.
 */
function settingsWith(path: string, value: unknown): Array<Record<string, unknown>> {
  const parts = path.split('.');
  // The objects at `node` (an object schema) holding parts[i..] = value, required members filled.
  const build = (node: Node, i: number): Array<Record<string, unknown>> => {
    const n = deref(node);
    const isArray = parts[i]!.endsWith('[]');
    const member = parts[i]!.replace(/\[\]$/, '');
    const child = deref((n.properties as Record<string, Node>)[member]!);
    const values: unknown[] = i === parts.length - 1 ? [value] : build(isArray ? (child.items as Node) : child, i + 1);
    let objects = values.map((v) => ({ [member]: isArray ? [v] : v }) as Record<string, unknown>);
    for (const r of (n.required as string[] | undefined) ?? []) {
      if (r === member) continue;
      const options = samples((n.properties as Record<string, Node>)[r]!, r);
      objects = objects.flatMap((o) => options.map((opt) => ({ [r]: opt, ...o })));
    }
    return objects;
  };
  return build(emmSchema.$defs.PolicySettings!, 0);
}

const settingsValidator = (() => {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addSchema(emmSchema);
  return ajv.getSchema(`${emmSchema.$id}#/$defs/PolicySettings`)!;
})();

const normalize = (p: string) => p.replace(/\[[^\]]*\]/g, '[]').replace(/\[\]$/, '');
const covers = (reported: string, leaf: string) => leaf === reported || leaf.startsWith(`${reported}.`) || leaf.startsWith(`${reported}[`);

function accountFor(out: CompiledPolicy, leaf: string): 'mapped' | 'reported' | undefined {
  if (out.unmappable.some((u) => u.ruleId === 'android/unknown-setting')) return undefined;
  if (out.mapped.some((m) => normalize(m.path) === leaf)) return 'mapped';
  if (out.unmappable.some((u) => covers(normalize(u.path), leaf))) return 'reported';
  return undefined;
}

describe('every emmctl setting is mapped or reported', () => {
  const all = leaves(emmSchema.$defs.PolicySettings!, '');

  it('finds the settings in the schema (the walk itself works)', () => {
    const paths = all.map((l) => l.path);
    expect(paths).toContain('passcode.minLength');
    expect(paths).toContain('wifi[].password');
    expect(paths).toContain('osUpdates.window.days');
    expect(paths).toContain('apps.blocked');
    expect(paths.length).toBeGreaterThanOrEqual(25);
  });

  it('accounts for every value of every setting, in every device mode, and each mapped field is in the body', () => {
    const keys = new Map([['Corp', 'a-valid-wpa2-key']]);
    const gaps: string[] = [];
    let compiled = 0;
    for (const leaf of all) {
      for (const value of leaf.values) {
        for (const settings of settingsWith(leaf.path, value)) {
          expect(settingsValidator(settings), `${JSON.stringify(settings)} is not valid emmctl settings`).toBe(true);
          for (const mode of MODES) {
            const out = compile(settings, mode, keys);
            compiled++;
            if (!accountFor(out, leaf.path)) gaps.push(`${leaf.path} = ${JSON.stringify(value)} in ${JSON.stringify(settings)} (${mode.ownership}/${mode.managementMode})`);
            for (const m of out.mapped) if (m.field !== null) expect(getPath(out.policy, m.field), `${m.path} → ${m.field}`).not.toBeUndefined();
          }
        }
      }
    }
    expect(gaps, `neither mapped nor reported:\n  ${gaps.join('\n  ')}`).toEqual([]);
    expect(compiled).toBeGreaterThan(200);
  });

  it('would notice a setting the compiler forgot (the check can fail)', () => {
    const out = compile({ camera: 'disabled' });
    expect(accountFor({ ...out, mapped: [] }, 'camera')).toBeUndefined();
    expect(accountFor(out, 'camera')).toBe('mapped');
  });
});

// ---- seeded random configurations ------------------------------------------------------------

function randomSettings(random: () => number): PolicySettings {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const s: Record<string, unknown> = {};
  const chance = (p: number) => random() < p;
  if (chance(0.6)) {
    const p: Record<string, unknown> = {};
    if (chance(0.5)) p.required = chance(0.8);
    if (chance(0.5)) p.minLength = 4 + Math.floor(random() * 12);
    if (chance(0.5)) p.quality = pick(['any', 'numeric', 'numeric-complex', 'alphabetic', 'alphanumeric', 'complex']);
    if (chance(0.3)) p.maxFailedAttempts = 1 + Math.floor(random() * 20);
    if (chance(0.3)) p.expirationDays = Math.floor(random() * 365);
    if (chance(0.3)) p.historyLength = Math.floor(random() * 10);
    s.passcode = p;
  }
  if (chance(0.5)) s.screenLock = { maxTimeoutSeconds: 15 + Math.floor(random() * 3600) };
  if (chance(0.5)) s.encryption = pick(['required', 'optional']);
  for (const k of ['camera', 'screenCapture', 'usbFileTransfer', 'bluetooth']) if (chance(0.4)) s[k] = pick(['enabled', 'disabled']);
  if (chance(0.5)) {
    const apps = ['com.microsoft.teams', 'com.company.portal', 'com.example.game', 'com.slack', 'org.mozilla.firefox', 'Microsoft.Office!App'];
    s.apps = { required: apps.filter(() => chance(0.3)), blocked: apps.filter(() => chance(0.2)) };
  }
  if (chance(0.4)) s.vpn = { ...(chance(0.8) ? { app: pick(['com.vpn.client', 'net.openvpn.openvpn']) } : {}), ...(chance(0.7) ? { alwaysOn: chance(0.7) } : {}), ...(chance(0.4) ? { lockdown: chance(0.5) } : {}) };
  if (chance(0.4)) {
    s.wifi = ['Corp', 'Guest', 'Lab'].filter(() => chance(0.6)).map((ssid) => {
      const security = pick(['open', 'wpa2-personal', 'wpa3-personal', 'wpa2-enterprise', 'wpa3-enterprise']);
      return { ssid, security, ...(security.endsWith('personal') ? { password: `\${env:PSK_${ssid.toUpperCase()}}` } : {}), ...(chance(0.5) ? { hidden: chance(0.5) } : {}), ...(chance(0.5) ? { autoConnect: chance(0.5) } : {}) };
    });
  }
  if (chance(0.4)) {
    const mode = pick(['automatic', 'windowed', 'postponed', 'manual']);
    const hhmm = () => `${String(Math.floor(random() * 24)).padStart(2, '0')}:${String(Math.floor(random() * 60)).padStart(2, '0')}`;
    s.osUpdates = {
      mode,
      ...(mode === 'windowed' || chance(0.1) ? { window: { start: hhmm(), end: hhmm(), ...(chance(0.5) ? { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].filter(() => chance(0.6)).slice(0, 7) } : {}) } } : {}),
      ...(mode === 'postponed' && chance(0.6) ? { postponeDays: 1 + Math.floor(random() * 90) } : {}),
    };
    const w = (s.osUpdates as { window?: { days?: string[] } }).window;
    if (w?.days && w.days.length === 0) delete w.days;
  }
  if (Object.keys(s).length === 0) s.camera = 'disabled';
  return s as PolicySettings;
}

describe('seeded random configurations', () => {
  for (const seed of [1, 7, 42, 1234, 99991]) {
    it(`seed ${seed}: 60 merged configurations compile to schema-valid policies that account for every setting`, () => {
      const random = mulberry32(seed);
      for (let i = 0; i < 60; i++) {
        const docs = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, j) => policy(`p${j}`, randomSettings(random), { priority: [50, 100, 100, 200][Math.floor(random() * 4)] }));
        for (const d of docs) expect(settingsValidator(d.spec.settings), JSON.stringify(d.spec.settings)).toBe(true);
        const configuration = effectiveConfiguration(docs);
        const mode = MODES[Math.floor(random() * MODES.length)]!;
        const keys = new Map([['Corp', 'corp-passphrase-1'], ['Guest', 'guest-passphrase-2']]); // Lab has no key resolved
        const out = compilePolicy({ configuration, mode, wifiPassphrases: keys });
        const context = JSON.stringify({ settings: configuration.settings, mode });
        if (SCHEMA_CHECKS) expect(checkAmapi('Policy', out.policy), context).toEqual([]);
        expect(out.policy.playStoreMode, context).toBe('BLACKLIST');
        expect(out.policy.statusReportingSettings, context).toEqual(BASE.statusReportingSettings);
        expect(parsePolicyId(out.policyId), context).toEqual({ revision: COMPILER_REVISION, mode, configurationVersion: configuration.version });
        expect(JSON.stringify(compilePolicy({ configuration, mode, wifiPassphrases: keys })), context).toBe(JSON.stringify(out));
        for (const leaf of settingLeaves(configuration.settings)) expect(accountForInstance(out, leaf), `${leaf} in ${context}`).toBeDefined();
        for (const m of out.mapped) if (m.field !== null) expect(getPath(out.policy, m.field), `${m.path} in ${context}`).not.toBeUndefined();
        const reports = JSON.stringify(out.unmappable) + JSON.stringify(out.mapped) + out.policyId;
        for (const key of keys.values()) expect(reports).not.toContain(key);
        if (mode.ownership === 'personal') expect(out.policy.deviceConnectivityManagement, context).toBeUndefined();
        else expect(out.policy.deviceConnectivityManagement, context).toBeDefined();
      }
    });
  }
});

/** The leaf paths of one configuration as the compiler names them: `wifi[Corp].hidden`, `apps.required[com.x]`. */
function settingLeaves(settings: Record<string, unknown>, path = ''): string[] {
  return Object.entries(settings).flatMap(([k, v]) => {
    const p = path ? `${path}.${k}` : k;
    if (Array.isArray(v)) {
      if (p === 'wifi') return (v as Array<Record<string, unknown>>).flatMap((net) => settingLeaves(net, `wifi[${String(net.ssid)}]`));
      if (p.startsWith('apps.')) return v.map((id) => `${p}[${String(id)}]`);
      return [p];
    }
    if (v !== null && typeof v === 'object') return settingLeaves(v as Record<string, unknown>, p);
    return [p];
  });
}

/** Like accountFor, for one configuration's own paths (each network and app on its own). */
function accountForInstance(out: CompiledPolicy, leaf: string): 'mapped' | 'reported' | undefined {
  if (out.unmappable.some((u) => u.ruleId === 'android/unknown-setting')) return undefined;
  if (out.mapped.some((m) => m.path === leaf)) return 'mapped';
  if (out.unmappable.some((u) => covers(u.path, leaf))) return 'reported';
  return undefined;
}
