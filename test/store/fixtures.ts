// Shared fixtures for store tests: a small policy set, a controllable clock, and a device
// that gets into the store the real way (enrollment token → enroll → check-in).
import type { ResourceChange } from '../../src/backends/backend.js';
import type { Posture } from '../../src/model/fleet.js';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import type { Actor } from '../../src/model/access.js';
import type { FleetService } from '../../src/service/fleet-service.js';
import { join } from 'node:path';
import type { SqlEngine } from '../../src/store/engine.js';
import { openPostgres } from '../../src/store/postgres/index.js';
import { SqliteEngine } from '../../src/store/sqlite/engine.js';
import { tempDir } from '../helpers/cli.js';
import { freshDatabase, type FreshDatabase } from '../helpers/postgres.js';

/**
 * A fresh engine per call on each engine: SQLite in a temp data dir, PostgreSQL in a fresh
 * database of the run's cluster. cleanup() (afterAll) removes what the calls made.
 */
export function freshEngines(prefix: string): { engines: Array<[string, () => Promise<SqlEngine>]>; cleanup(): Promise<void> } {
  const dirs: Array<{ cleanup(): void }> = [];
  const databases: FreshDatabase[] = [];
  return {
    engines: [
      ['sqlite', async () => {
        const dir = tempDir(prefix);
        dirs.push(dir);
        return SqliteEngine.open(join(dir.path, 'data'));
      }],
      ['postgres', async () => {
        const db = await freshDatabase();
        databases.push(db);
        return (await openPostgres(db.url)).engine;
      }],
    ],
    async cleanup() {
      dirs.forEach((d) => d.cleanup());
      for (const d of databases) await d.drop();
    },
  };
}

export const ADMIN: Actor = { name: 'local:tester', source: 'local' };

export function testClock(start = '2026-01-01T00:00:00.000Z') {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
    set(iso: string) {
      t = Date.parse(iso);
    },
  };
}
export const DAY = 86_400_000;

export function docs(): ResourceDocument[] {
  return [
    { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'corp-android' }, spec: { match: { platforms: ['android'], ownership: 'corporate' } } },
    { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: 'sales' }, spec: { match: { labels: { team: 'sales' } } } },
    {
      apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name: 'android-baseline' },
      spec: { assign: ['corp-android'], settings: { camera: 'disabled', passcode: { required: true, minLength: 6 } } },
    },
    {
      apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'baseline' },
      spec: {
        assign: ['all'],
        rules: { minOsVersion: { android: '13', ios: '17.0' }, encryption: 'required' },
        actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '3d', do: 'lock' }, { after: '30d', do: 'retire' }],
      },
    },
    {
      apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'corp' },
      spec: { platforms: ['android', 'ios'], ownership: 'corporate', labels: { source: 'corp-profile' }, tokenTtl: '2d', maxUses: 1000 },
    },
  ];
}

export function createAll(documents = docs()): ResourceChange[] {
  return documents.map((d) => ({ op: 'create', kind: d.kind, name: d.metadata.name, document: d }));
}

export function posture(over: Partial<Posture> = {}): Posture {
  return { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [], ...over };
}

let serials = 0;
/** Enrolls through a fresh token of profile `corp` and checks in once. */
export async function enrollDevice(store: FleetService, opts: { platform?: 'android' | 'ios'; serial?: string; owner?: string; posture?: Partial<Posture>; token?: string } = {}) {
  const token = opts.token ?? (await store.createEnrollmentToken({ profile: 'corp' }, ADMIN)).secret;
  const serial = opts.serial ?? `SN${process.pid}-${++serials}`;
  const p = posture(opts.posture);
  const enrolled = await store.enrollDevice({ token, platform: opts.platform ?? 'android', serial, osVersion: p.osVersion, owner: opts.owner }, 'test');
  const checkIn = await store.checkIn(enrolled.deviceId, { posture: p });
  return { ...enrolled, serial, checkIn };
}
