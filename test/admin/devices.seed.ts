// Seeds a store for the admin e2e tests the real way: policies applied through the store,
// devices enrolled with an enrollment token and checked in through the agent API (FleetService),
// exactly as the server and the simulator do. Never SQL.
import { join } from 'node:path';
import type { Posture } from '../../src/model/fleet.js';
import type { Platform, ResourceDocument } from '../../src/model/policy.generated.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { tempDir } from '../helpers/cli.js';

const ADMIN = { name: 'local:seed', source: 'local' };

export const DOCS: ResourceDocument[] = [
  { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'corp-android' }, spec: { match: { platforms: ['android'], ownership: 'corporate' } } },
  {
    apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name: 'android-baseline' },
    spec: { assign: ['corp-android'], settings: { camera: 'disabled' } },
  },
  {
    apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'baseline' },
    spec: { assign: ['all'], rules: { minOsVersion: { android: '13', ios: '17.0' }, encryption: 'required' }, actions: [{ after: '0d', do: 'markNoncompliant' }] },
  },
  {
    apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'corp' },
    spec: { platforms: ['android', 'ios'], ownership: 'corporate', labels: { team: 'sales' }, tokenTtl: '2d', maxUses: 100000 },
  },
];

export interface SeedDevice {
  name: string;
  serial: string;
  platform: Platform;
  owner: string;
  posture: Partial<Posture>;
}

/** Five devices: 3 android (one old OS, one unencrypted), 2 ios (one old OS). */
export const FLEET: SeedDevice[] = [
  { name: 'ana-pixel', serial: 'SN-A1', platform: 'android', owner: 'ana@example.com', posture: { osVersion: '14' } },
  { name: 'bo-galaxy', serial: 'SN-A2', platform: 'android', owner: 'bo@example.com', posture: { osVersion: '12' } },
  { name: 'cy-pixel', serial: 'SN-A3', platform: 'android', owner: 'cy@other.org', posture: { osVersion: '14', encrypted: false } },
  { name: 'di-iphone', serial: 'SN-I1', platform: 'ios', owner: 'di@example.com', posture: { osVersion: '17.4' } },
  { name: 'ed-iphone', serial: 'SN-I2', platform: 'ios', owner: 'ed@example.com', posture: { osVersion: '16.7' } },
];

export interface SeededStore {
  dataDir: string;
  env: Record<string, string>;
  ids: Record<string, string>;
  credentials: Record<string, string>;
  cleanup(): void;
}

export async function seedStore(fleet: SeedDevice[] = FLEET): Promise<SeededStore> {
  const dir = tempDir('emmctl-admin-');
  const dataDir = join(dir.path, 'data');
  const store = await FleetService.open(dataDir);
  const ids: Record<string, string> = {};
  const credentials: Record<string, string> = {};
  try {
    await store.applyChanges(DOCS.map((d) => ({ op: 'create' as const, kind: d.kind, name: d.metadata.name, document: d })), ADMIN);
    const { secret } = await store.createEnrollmentToken({ profile: 'corp' }, ADMIN);
    for (const d of fleet) {
      const posture: Posture = { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [], ...d.posture };
      const enrolled = await store.enrollDevice({ token: secret, platform: d.platform, serial: d.serial, name: d.name, owner: d.owner, osVersion: posture.osVersion }, 'test');
      await store.checkIn(enrolled.deviceId, { posture });
      ids[d.name] = enrolled.deviceId;
      credentials[d.name] = enrolled.credential;
    }
  } finally {
    await store.close();
  }
  return { dataDir, env: { EMMCTL_DATA_DIR: dataDir, HOME: dir.path, EMMCTL_CONFIG_DIR: join(dir.path, 'config') }, ids, credentials, cleanup: dir.cleanup };
}

/** A device checks in once and reports every pending command with `status` — the agent's side of --wait. */
export async function deviceRunsCommands(dataDir: string, deviceId: string, status: 'acknowledged' | 'failed' = 'acknowledged'): Promise<string[]> {
  const store = await FleetService.open(dataDir);
  try {
    const response = await store.checkIn(deviceId, { posture: { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [] } });
    for (const cmd of response.commands) await store.reportCommandResult(deviceId, cmd.id, { status, detail: status === 'failed' ? 'device refused' : undefined });
    return response.commands.map((c) => c.id);
  } finally {
    await store.close();
  }
}
