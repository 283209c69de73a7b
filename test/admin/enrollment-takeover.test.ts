// Device takeover by re-enrollment on the embedded store: the agent side is the store itself (as
// the in-process simulator server uses it), the admin side the built CLI with --data-dir. An
// enrollment with an enrolled device's serial is refused whatever the profile; the device keeps
// its credential, its pending lock and its ownership; the audit shows the refusal; only
// `emmctl devices release` lets the next enrollment take the device over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError } from '../../src/errors.js';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { runCli } from '../helpers/cli.js';
import { seedStore, type SeededStore } from './devices.seed.js';

const BYOD: ResourceDocument = { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'byod' }, spec: { platforms: ['android', 'ios'], ownership: 'personal' } };
const POSTURE = { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [] };

let fleet: SeededStore;
const cli = (...args: string[]) => runCli(args, { env: fleet.env });
const json = async (...args: string[]) => {
  const r = await cli(...args, '-o', 'json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
/** The device side, on the store the CLI manages. */
async function agent<T>(fn: (store: FleetService) => Promise<T>): Promise<T> {
  const store = await FleetService.open(fleet.dataDir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
async function refusal(fn: () => Promise<unknown>): Promise<BackendError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof BackendError) return error;
    throw error;
  }
  throw new Error('expected the enrollment to be refused');
}

beforeAll(async () => {
  fleet = await seedStore();
  await agent(async (s) => await s.applyChanges([{ op: 'create', kind: 'EnrollmentProfile', name: 'byod', document: BYOD }], { name: 'local:seed', source: 'local' }));
});
afterAll(() => fleet.cleanup());

describe('re-enrollment on the embedded store', () => {
  let victim: string;
  let lockId: string;

  beforeAll(async () => {
    victim = fleet.ids['ana-pixel']!;
    const lock = await json('lock', victim, '--reason', 'reported lost');
    lockId = lock[0].commandId;
  });

  it('refuses an enrollment with the serial of an enrolled device, for a token of any profile', async () => {
    for (const profile of ['byod', 'corp']) {
      const { secret } = await json('enroll', 'token', 'create', '--profile', profile);
      const error = await agent((s) => refusal(() => s.enrollDevice({ token: secret, platform: 'android', serial: 'SN-A1', osVersion: '14', ownership: 'personal', name: 'evil' }, '192.0.2.7')));
      expect(error.code).toBe('conflict');
      expect(error.message).toMatch(/serial "SN-A1" belongs to an enrolled device/);
      expect(error.hint).toMatch(/emmctl devices release/);
    }
  });

  it('leaves the device its credential, its pending lock and its ownership, and audits the refusals', async () => {
    const response = await agent(async (s) => await s.checkIn((await s.authenticateDevice(fleet.credentials['ana-pixel']!))!, { posture: POSTURE }));
    expect(response.deviceId).toBe(victim);
    expect(response.commands.map((c) => c.id)).toEqual([lockId]);
    const device = await json('devices', 'show', victim);
    expect(device).toMatchObject({ name: 'ana-pixel', ownership: 'corporate', profile: 'corp', owner: 'ana@example.com', state: 'enrolled' });
    const refused = (await json('audit')).filter((a: { action: string }) => a.action === 'enroll.refused');
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatchObject({ source: '192.0.2.7', target: `device/${victim}`, detail: { serial: 'SN-A1', profile: 'byod', reason: 'enrolled' } });
  });

  it('`devices release` opens the device to the next enrollment, which replaces its credential and cancels its commands', async () => {
    const text = await cli('devices', 'release', victim, '--expires', '2h');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/released until:\s+\d{4}-\d\d-\d\dT/);
    expect(text.stderr).toMatch(/next enrollment with serial SN-A1 before .* takes this device over/);
    const { secret } = await json('enroll', 'token', 'create', '--profile', 'corp');
    const again = await agent(async (s) => await s.enrollDevice({ token: secret, platform: 'android', serial: 'SN-A1', osVersion: '15' }, 'test'));
    expect(again.deviceId).toBe(victim);
    expect(await agent(async (s) => await s.authenticateDevice(fleet.credentials['ana-pixel']!))).toBeUndefined();
    expect((await json('commands', 'list', '--device', victim)).find((c: { id: string }) => c.id === lockId)).toMatchObject({ status: 'cancelled' });
    const last = (await json('audit', '--limit', '3')).map((a: { action: string }) => a.action);
    expect(last).toEqual(['device.release', 'token.create', 'enroll']);
  });

  it('refuses to release an unknown device, and a release past 30 days (usage error)', async () => {
    const missing = await cli('devices', 'release', 'dev_nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/device dev_nope does not exist/);
    const long = await cli('devices', 'release', fleet.ids['bo-galaxy']!, '--expires', '31d');
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/--expires 31d: a release lasts at most 30d/);
  });
});
