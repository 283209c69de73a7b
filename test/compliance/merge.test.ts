import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { conflictingSettings, effectiveConfiguration } from '../../src/compliance/index.js';
import type { PolicyDocument } from '../../src/model/policy.generated.js';
import { policy } from './fixtures.js';

const merged = (...ps: PolicyDocument[]) => effectiveConfiguration(ps).settings;

describe('effectiveConfiguration: priority', () => {
  it('the higher priority wins per field, even when weaker', () => {
    const strict = policy('strict', { passcode: { minLength: 12, quality: 'complex' }, camera: 'disabled' });
    const override = policy('exec-override', { passcode: { minLength: 4 }, camera: 'enabled' }, { priority: 200 });
    const r = effectiveConfiguration([strict, override]);
    expect(r.settings).toEqual({ camera: 'enabled', passcode: { minLength: 4, quality: 'complex' } });
    expect(r.sources).toMatchObject({ camera: 'exec-override', 'passcode.minLength': 'exec-override', 'passcode.quality': 'strict', passcode: 'exec-override, strict' });
  });

  it('an absent priority is 100', () => {
    expect(merged(policy('a', { camera: 'disabled' }), policy('b', { camera: 'enabled' }, { priority: 101 }))).toEqual({ camera: 'enabled' });
    expect(merged(policy('a', { camera: 'enabled' }), policy('b', { camera: 'disabled' }, { priority: 99 }))).toEqual({ camera: 'enabled' });
    expect(merged(policy('a', { camera: 'enabled' }), policy('b', { camera: 'disabled' }, { priority: 100 }))).toEqual({ camera: 'disabled' });
  });
});

describe('effectiveConfiguration: stricter wins at equal priority', () => {
  const pair = (a: PolicyDocument['spec']['settings'], b: PolicyDocument['spec']['settings']) => [merged(policy('a', a), policy('b', b)), merged(policy('b', b), policy('a', a))];

  it.each([
    ['passcode.required', { passcode: { required: false } }, { passcode: { required: true } }, { passcode: { required: true } }],
    ['passcode.minLength', { passcode: { minLength: 6 } }, { passcode: { minLength: 8 } }, { passcode: { minLength: 8 } }],
    ['passcode.quality', { passcode: { quality: 'alphanumeric' } }, { passcode: { quality: 'numeric-complex' } }, { passcode: { quality: 'alphanumeric' } }],
    ['passcode.quality complex', { passcode: { quality: 'complex' } }, { passcode: { quality: 'alphanumeric' } }, { passcode: { quality: 'complex' } }],
    ['passcode.maxFailedAttempts', { passcode: { maxFailedAttempts: 10 } }, { passcode: { maxFailedAttempts: 5 } }, { passcode: { maxFailedAttempts: 5 } }],
    ['passcode.expirationDays', { passcode: { expirationDays: 90 } }, { passcode: { expirationDays: 30 } }, { passcode: { expirationDays: 30 } }],
    ['passcode.expirationDays 0 = never', { passcode: { expirationDays: 0 } }, { passcode: { expirationDays: 365 } }, { passcode: { expirationDays: 365 } }],
    ['passcode.historyLength', { passcode: { historyLength: 3 } }, { passcode: { historyLength: 5 } }, { passcode: { historyLength: 5 } }],
    ['screenLock.maxTimeoutSeconds', { screenLock: { maxTimeoutSeconds: 300 } }, { screenLock: { maxTimeoutSeconds: 60 } }, { screenLock: { maxTimeoutSeconds: 60 } }],
    ['encryption', { encryption: 'optional' }, { encryption: 'required' }, { encryption: 'required' }],
    ['camera', { camera: 'enabled' }, { camera: 'disabled' }, { camera: 'disabled' }],
    ['screenCapture', { screenCapture: 'disabled' }, { screenCapture: 'enabled' }, { screenCapture: 'disabled' }],
    ['usbFileTransfer', { usbFileTransfer: 'enabled' }, { usbFileTransfer: 'disabled' }, { usbFileTransfer: 'disabled' }],
    ['bluetooth', { bluetooth: 'enabled' }, { bluetooth: 'disabled' }, { bluetooth: 'disabled' }],
    ['vpn.alwaysOn/lockdown', { vpn: { alwaysOn: true, lockdown: false } }, { vpn: { alwaysOn: false, lockdown: true } }, { vpn: { alwaysOn: true, lockdown: true } }],
    ['osUpdates mode', { osUpdates: { mode: 'postponed', postponeDays: 7 } }, { osUpdates: { mode: 'windowed', window: { start: '02:00', end: '04:00' } } }, { osUpdates: { mode: 'windowed', window: { start: '02:00', end: '04:00' } } }],
    ['osUpdates automatic', { osUpdates: { mode: 'automatic' } }, { osUpdates: { mode: 'manual' } }, { osUpdates: { mode: 'automatic' } }],
  ] as const)('%s', (_name, a, b, want) => {
    const [ab, ba] = pair(a as never, b as never);
    expect(ab).toEqual(want);
    expect(ba).toEqual(want);
  });

  it('osUpdates merges whole: a higher-priority object replaces every part of it', () => {
    const r = merged(
      policy('a', { osUpdates: { mode: 'postponed', postponeDays: 30 } }, { priority: 200 }),
      policy('b', { osUpdates: { mode: 'automatic', window: { start: '01:00', end: '02:00' } } }),
    );
    expect(r).toEqual({ osUpdates: { mode: 'postponed', postponeDays: 30 } });
  });

  it('a merged vpn lockdown brings always-on with it, even against a higher priority', () => {
    const r = effectiveConfiguration([
      policy('base', { vpn: { app: 'com.vpn', lockdown: true } }),
      policy('relaxed', { vpn: { alwaysOn: false } }, { priority: 300 }),
    ]);
    expect(r.settings).toEqual({ vpn: { app: 'com.vpn', alwaysOn: true, lockdown: true } });
    expect(r.sources).toMatchObject({ 'vpn.alwaysOn': 'base', vpn: 'base' });
    expect(merged(policy('a', { vpn: { lockdown: false, alwaysOn: false } }))).toEqual({ vpn: { alwaysOn: false, lockdown: false } });
  });

  it('a field with no notion of stricter goes to the policy whose name sorts first', () => {
    const r = effectiveConfiguration([policy('zulu', { vpn: { app: 'com.z' } }), policy('alpha', { vpn: { app: 'com.a' } })]);
    expect(r.settings).toEqual({ vpn: { app: 'com.a' } });
    expect(r.sources['vpn.app']).toBe('alpha');
  });
});

describe('effectiveConfiguration: settings this engine does not know yet', () => {
  it('merge by priority, then policy name, never by list order', () => {
    const a = policy('a', { kiosk: { app: 'com.a', exitPin: '1234' } } as never);
    const b = policy('b', { kiosk: { app: 'com.b' } } as never, { priority: 150 });
    const c = policy('c', { kiosk: { app: 'com.c' }, dnsFilter: 'strict' } as never);
    expect(effectiveConfiguration([c, b, a]).settings).toEqual({ dnsFilter: 'strict', kiosk: { app: 'com.b', exitPin: '1234' } });
    expect(effectiveConfiguration([a, c]).settings).toEqual({ dnsFilter: 'strict', kiosk: { app: 'com.a', exitPin: '1234' } });
  });
});

describe('effectiveConfiguration: apps and wifi', () => {
  it('unions required and blocked apps over every priority; blocked beats required', () => {
    const r = effectiveConfiguration([
      policy('base', { apps: { required: ['com.portal', 'com.chat'], blocked: ['com.torrent'] } }),
      policy('sales', { apps: { required: ['com.crm', 'com.chat'] } }, { priority: 500 }),
      policy('sec', { apps: { blocked: ['com.chat'] } }, { priority: 1 }),
    ]);
    expect(r.settings).toEqual({ apps: { required: ['com.crm', 'com.portal'], blocked: ['com.chat', 'com.torrent'] } });
    expect(r.sources).toMatchObject({
      apps: 'base, sales, sec',
      'apps.required': 'base, sales',
      'apps.blocked': 'base, sec',
      'apps.blocked[com.chat]': 'sec',
      'apps.required[com.crm]': 'sales',
    });
  });

  it('drops apps.required when every required app is blocked', () => {
    expect(merged(policy('a', { apps: { required: ['com.x'] } }), policy('b', { apps: { blocked: ['com.x'] } }))).toEqual({ apps: { blocked: ['com.x'] } });
  });

  it('unions wifi by ssid: higher priority wins per ssid, then stronger security, sorted by ssid', () => {
    const r = effectiveConfiguration([
      policy('a', { wifi: [{ ssid: 'Guest', security: 'open' }, { ssid: 'Corp', security: 'wpa2-personal', password: '${env:A}' }] }),
      policy('b', { wifi: [{ ssid: 'Corp', security: 'wpa3-enterprise' }, { ssid: 'Lab', security: 'wpa2-personal' }] }),
      policy('c', { wifi: [{ ssid: 'Lab', security: 'open', hidden: true }] }, { priority: 300 }),
    ]);
    expect(r.settings.wifi).toEqual([
      { ssid: 'Corp', security: 'wpa3-enterprise' },
      { ssid: 'Guest', security: 'open' },
      { ssid: 'Lab', security: 'open', hidden: true },
    ]);
    expect(r.sources).toMatchObject({ 'wifi[Corp]': 'b', 'wifi[Guest]': 'a', 'wifi[Lab]': 'c', wifi: 'a, b, c' });
  });
});

describe('effectiveConfiguration: version', () => {
  const ps = [
    policy('a', { passcode: { minLength: 6, required: true }, wifi: [{ ssid: 'X', security: 'open' }, { ssid: 'A', security: 'open' }], apps: { required: ['b', 'a'] } }),
    policy('b', { camera: 'disabled', passcode: { quality: 'numeric' }, apps: { required: ['c'] } }),
    policy('c', { osUpdates: { mode: 'windowed', window: { start: '01:00', end: '03:00' } } }, { priority: 5 }),
  ];

  it('is the first 16 hex digits of sha256 over the canonical JSON of the settings', () => {
    const r = effectiveConfiguration(ps);
    expect(r.version).toMatch(/^[0-9a-f]{16}$/);
    const canonical = '{"apps":{"required":["a","b","c"]},"camera":"disabled","osUpdates":{"mode":"windowed","window":{"end":"03:00","start":"01:00"}},"passcode":{"minLength":6,"quality":"numeric","required":true},"wifi":[{"security":"open","ssid":"A"},{"security":"open","ssid":"X"}]}';
    expect(r.version).toBe(createHash('sha256').update(canonical).digest('hex').slice(0, 16));
  });

  it('does not depend on the order of policies, keys or list items', () => {
    const v = effectiveConfiguration(ps).version;
    expect(effectiveConfiguration([...ps].reverse()).version).toBe(v);
    expect(effectiveConfiguration([ps[2]!, ps[0]!, ps[1]!]).version).toBe(v);
    const reordered = policy('a', { apps: { required: ['a', 'b'] }, wifi: [{ security: 'open', ssid: 'A' }, { ssid: 'X', security: 'open' }], passcode: { required: true, minLength: 6 } });
    expect(effectiveConfiguration([ps[1]!, reordered, ps[2]!]).version).toBe(v);
  });

  it('changes when a merged value changes, not when a losing value does', () => {
    const v = effectiveConfiguration(ps).version;
    expect(effectiveConfiguration([...ps, policy('d', { camera: 'enabled' })]).version).toBe(v); // loses to disabled
    expect(effectiveConfiguration([...ps, policy('d', { passcode: { minLength: 7 } })]).version).not.toBe(v);
    expect(effectiveConfiguration([]).version).toBe(createHash('sha256').update('{}').digest('hex').slice(0, 16));
    expect(effectiveConfiguration([])).toMatchObject({ settings: {}, sources: {} });
  });
});

describe('conflictingSettings', () => {
  it('reports same-priority pairs on a shared group that set a leaf differently', () => {
    const conflicts = conflictingSettings([
      policy('a', { passcode: { minLength: 6, required: true }, camera: 'disabled', apps: { required: ['com.x', 'com.y'] }, wifi: [{ ssid: 'W', security: 'open' }] }, { assign: ['sales'] }),
      policy('b', { passcode: { minLength: 8, required: true }, camera: 'disabled', apps: { blocked: ['com.x'], required: ['com.y'] }, wifi: [{ ssid: 'W', security: 'wpa2-personal' }] }, { assign: ['sales', 'eng'] }),
      policy('c', { passcode: { minLength: 4 } }, { assign: ['sales'], priority: 200 }), // other priority: settled by priority
      policy('d', { passcode: { minLength: 10 } }, { assign: ['eng'] }),
    ]);
    expect(conflicts).toEqual([
      { group: 'eng', field: 'passcode.minLength', policies: ['b', 'd'], values: [8, 10] },
      { group: 'sales', field: 'apps[com.x]', policies: ['a', 'b'], values: ['required', 'blocked'] },
      { group: 'sales', field: 'passcode.minLength', policies: ['a', 'b'], values: [6, 8] },
      { group: 'sales', field: 'wifi[W]', policies: ['a', 'b'], values: [{ ssid: 'W', security: 'open' }, { ssid: 'W', security: 'wpa2-personal' }] },
    ]);
  });

  it('finds nothing when values agree, groups differ or priorities differ', () => {
    expect(conflictingSettings([
      policy('a', { camera: 'disabled', osUpdates: { mode: 'automatic' } }, { assign: ['x'] }),
      policy('b', { camera: 'disabled', osUpdates: { mode: 'automatic' } }, { assign: ['x'] }),
      policy('c', { camera: 'enabled' }, { assign: ['y'] }),
      policy('d', { camera: 'enabled' }, { assign: ['x'], priority: 1 }),
    ])).toEqual([]);
  });

  it('compares osUpdates as one value', () => {
    const c = conflictingSettings([policy('a', { osUpdates: { mode: 'automatic' } }), policy('b', { osUpdates: { mode: 'automatic', window: { start: '01:00', end: '02:00' } } })]);
    expect(c.map((x) => `${x.group}:${x.field}`)).toEqual(['all:osUpdates']);
  });
});
