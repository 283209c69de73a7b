// What fired, what is due and what comes next, for each failing device, in `compliance -o
// json|wide` and `devices show`; and the read-only what-if `compliance --at`, on the embedded
// store and through a real server. The store is seeded with an injected clock days in the past;
// the CLI then runs on the real clock, so every instant below is computed, none hard-coded.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceCompliance } from '../../src/model/fleet.js';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { DB_FILE } from '../../src/store/sqlite/files.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { createApiToken, killAll, startServerProcess, type ServerProcess } from '../helpers/server.js';

const DAY = 86_400_000;
const ADMIN = { name: 'local:seed', source: 'local' };
const DOCS: ResourceDocument[] = [
  {
    apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'baseline' },
    spec: {
      assign: ['all'], rules: { encryption: 'required', maxCheckInAgeDays: 14 },
      actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '1d', do: 'notify' }, { after: '3d', do: 'lock' }, { after: '30d', do: 'retire' }],
    },
  },
  { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'corp' }, spec: { platforms: ['android'], ownership: 'corporate' } },
];

let dir: { path: string; cleanup: () => void };
let dataDir: string;
let env: Record<string, string>;
/** Start of the unencrypted device's episode, 5 days ago. */
let t0: number;
/** The encrypted device's last check-in, a minute ago. */
let lastSeen: number;
const ids: Record<string, string> = {};

beforeAll(async () => {
  dir = tempDir('emmctl-escalation-');
  dataDir = join(dir.path, 'data');
  env = { EMMCTL_DATA_DIR: dataDir, HOME: dir.path, EMMCTL_CONFIG_DIR: join(dir.path, 'config') };
  t0 = Math.floor(Date.now() / 1000) * 1000 - 5 * DAY;
  let t = t0;
  const store = await FleetService.open(dataDir, { now: () => new Date(t) });
  try {
    await store.applyChanges(DOCS.map((d) => ({ op: 'create' as const, kind: d.kind, name: d.metadata.name, document: d })), ADMIN);
    const { secret } = await store.createEnrollmentToken({ profile: 'corp' }, ADMIN);
    const posture = { osVersion: '14', encrypted: true, passcodeSet: true, compromised: false, installedApps: [] };
    const bad = await store.enrollDevice({ token: secret, platform: 'android', serial: 'SN-BAD', name: 'bad-pixel', osVersion: '14' }, 'test');
    await store.checkIn(bad.deviceId, { posture: { ...posture, encrypted: false } });
    t = t0 + DAY;
    await store.reconcile();
    // No reconcile since day 1: the 3d lock is due, not fired.
    t = Date.now() - 60_000;
    lastSeen = t;
    const good = await store.enrollDevice({ token: secret, platform: 'android', serial: 'SN-GOOD', name: 'good-pixel', osVersion: '14' }, 'test');
    await store.checkIn(good.deviceId, { posture });
    ids.bad = bad.deviceId;
    ids.good = good.deviceId;
  } finally {
    await store.close();
  }
});
afterAll(async () => {
  killAll();
  dir.cleanup();
});

const iso = (ms: number) => new Date(ms).toISOString();
const records = (stdout: string) => Object.fromEntries((JSON.parse(stdout) as DeviceCompliance[]).map((r) => [r.name, r]));

/** Every row of every table: what "nothing in the store changed" is checked against. */
async function dump(): Promise<string> {
  const db = new Database(join(dataDir, DB_FILE), { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    return JSON.stringify(tables.map((name) => [name, db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all()]));
  } finally {
    await db.close();
  }
}

describe('escalation shown per failing device', () => {
  it('compliance -o json lists the steps fired with when, the steps due, and the next action', async () => {
    const r = await runCli(['compliance', '-o', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const { 'bad-pixel': bad, 'good-pixel': good } = records(r.stdout);
    expect(bad).toMatchObject({
      status: 'noncompliant',
      noncompliantSince: iso(t0),
      stepsFired: [
        { policy: 'baseline', after: '0d', do: 'markNoncompliant', firedAt: iso(t0) },
        { policy: 'baseline', after: '1d', do: 'notify', firedAt: iso(t0 + DAY) },
      ],
      stepsDue: [{ policy: 'baseline', after: '3d', do: 'lock', dueAt: iso(t0 + 3 * DAY) }],
      nextAction: 'retire',
      nextActionAt: iso(t0 + 30 * DAY),
      nextActionPolicy: 'baseline',
    });
    expect(bad!.evaluatedAt).toBeUndefined();
    // A compliant device has no escalation fields at all.
    expect(Object.keys(good!).filter((k) => /^(steps|next)/.test(k))).toEqual([]);
  });

  it('compliance -o wide and devices show print them', async () => {
    const wide = await runCli(['compliance', '-o', 'wide', '--filter', 'name=bad-pixel'], { env });
    expect(wide.code, wide.stderr).toBe(0);
    expect(wide.stdout).toMatch(/LAST SEEN\s+STEPS FIRED\s+DUE\s+NEXT ACTION\s+NEXT AT/);
    expect(wide.stdout).toContain(`markNoncompliant@0d ${iso(t0)}; notify@1d ${iso(t0 + DAY)}`);
    expect(wide.stdout).toMatch(new RegExp(`lock@3d\\s+retire \\(baseline\\)\\s+${iso(t0 + 30 * DAY).replace(/\./g, '\\.')}`));
    const show = await runCli(['devices', 'show', ids.bad!], { env });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`fired  notify (baseline, after 1d)  ${iso(t0 + DAY)}`);
    expect(show.stdout).toContain(`due    lock (baseline, after 3d)  ${iso(t0 + 3 * DAY)}`);
    expect(show.stdout).toContain(`next   retire (baseline)  ${iso(t0 + 30 * DAY)}`);
    const json = await runCli(['devices', 'show', ids.bad!, '-o', 'json'], { env });
    expect(JSON.parse(json.stdout).compliance).toMatchObject({ nextAction: 'retire', stepsFired: [{ do: 'markNoncompliant' }, { do: 'notify' }] });
  });
});

describe('compliance --at: a read-only what-if', () => {
  it('evaluates status and due steps at that moment, and changes nothing in the store', async () => {
    const before = await dump();
    const r = await runCli(['compliance', '--at', '+26d', '-o', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const { 'bad-pixel': bad, 'good-pixel': good } = records(r.stdout);
    // 31 days into its episode: lock and retire are both due; nothing is left to come.
    expect(bad!.stepsDue!.map((s) => s.do)).toEqual(['lock', 'retire']);
    expect(bad!.nextAction).toBeUndefined();
    expect(Date.parse(bad!.evaluatedAt!)).toBeGreaterThan(t0 + 31 * DAY - 1);
    // Compliant today; 14 days after its last check-in it starts failing, so 26 days ahead it is
    // about 12 days into an episode that began then.
    const onset = lastSeen + 14 * DAY + 1;
    expect(good).toMatchObject({ status: 'noncompliant', failures: [{ rule: 'maxCheckInAgeDays' }], stepsFired: [], nextAction: 'retire', nextActionAt: iso(onset + 30 * DAY) });
    expect(good!.stepsDue!.map((s) => `${s.do}@${s.dueAt}`)).toEqual([`markNoncompliant@${iso(onset)}`, `notify@${iso(onset + DAY)}`, `lock@${iso(onset + 3 * DAY)}`]);
    // Filters judge the devices at that moment too.
    const gate = await runCli(['compliance', '--at', iso(t0 + 40 * DAY), '--filter', 'compliance=noncompliant', '--fail-on', 'noncompliant', '-o', 'json'], { env });
    expect(gate.code).toBe(5);
    expect(Object.keys(records(gate.stdout)).sort()).toEqual(['bad-pixel', 'good-pixel']);
    expect(await dump()).toBe(before);
  });

  it('refuses a time it cannot read or one in the past (exit 2), naming the value', async () => {
    const bad = await runCli(['compliance', '--at', 'tomorrow'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"tomorrow" is neither an ISO-8601 time');
    const zoneless = await runCli(['compliance', '--at', '2030-01-01T10:00'], { env });
    expect(zoneless.code).toBe(2);
    const past = await runCli(['compliance', '--at', iso(t0)], { env });
    expect(past.code, past.stderr).toBe(2);
    expect(past.stderr).toContain('is in the past');
  });

  it('refuses an absurdly far +DURATION and a time that is not a real calendar instant with zone (exit 2)', async () => {
    for (const at of ['+99999999d', '+99999999w', '+9999999999999999m', '2099-02-30T00:00:00Z', '2099-01-01T24:00:00Z', '2099-01-01', '2099-13-01T00:00:00Z']) {
      const r = await runCli(['compliance', '--at', at], { env });
      expect(r.code, `${at}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`"${at}" is neither`);
    }
  });

  it('works through the server: the at query parameter, the same answer', async () => {
    const token = await createApiToken(dataDir, 'viewer', 'whatif');
    let server: ServerProcess | undefined;
    try {
      server = await startServerProcess(dataDir, ['--tick', '3600']);
      const remote = { HOME: env.HOME!, EMMCTL_CONFIG_DIR: env.EMMCTL_CONFIG_DIR!, EMMCTL_SERVER: server.url, EMMCTL_TOKEN: token };
      const r = await runCli(['compliance', '--at', '+26d', '-o', 'json'], { env: remote });
      expect(r.code, r.stderr).toBe(0);
      const good = records(r.stdout)['good-pixel']!;
      expect(good).toMatchObject({ status: 'noncompliant', nextAction: 'retire', nextActionAt: iso(lastSeen + 14 * DAY + 1 + 30 * DAY) });
      expect(good.evaluatedAt).toBeDefined();
      const past = await fetch(`${server.url}/v1/compliance?at=${encodeURIComponent(iso(t0))}`, { headers: { authorization: `Bearer ${token}` } });
      expect(past.status).toBe(400);
      expect(((await past.json()) as { error: { message: string } }).error.message).toContain('is in the past');
      const list = await fetch(`${server.url}/v1/devices?at=%2B1d`, { headers: { authorization: `Bearer ${token}` } });
      expect(list.status).toBe(400);
      // Far durations used to overflow the Date (500 RangeError); rolled-over dates were read as March.
      for (const at of ['+99999999d', '+99999999w', '+9999999999999999m', '2099-02-30T00:00:00Z', '2099-01-01T24:00:00Z', '2099-01-01']) {
        const res = await fetch(`${server.url}/v1/compliance?at=${encodeURIComponent(at)}`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status, at).toBe(400);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid');
      }
    } finally {
      await server?.stop();
    }
  });
});
