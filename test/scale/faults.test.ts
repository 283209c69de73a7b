// Faults under load, with real processes: a replica killed with SIGKILL in the middle of a
// command burst, an apply and a check-in storm; and the PostgreSQL server itself stopped and
// started again (a private cluster, same port) while replicas serve. Every request must end as a
// success, a documented error or a lost connection, and afterwards the data must say that nothing
// acknowledged was lost, nothing doubled, nothing half-written.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv } from '../helpers/cli.js';
import { startCluster, type Cluster } from '../helpers/postgres-cluster.js';
import { adminQuery, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { inParallel, startReplicas, until, type Answer, type Lost, type ReplicaSet } from './replicas.js';

const SERVER_ARGS = ['--rate-limit', 'off', '--device-rate-limit', 'off', '--enroll-rate-limit', 'off', '--tick', '0.5'];
const POSTURE = { osVersion: '14', patchLevel: '2026-10-05', model: 'Pixel 8', encrypted: false, passcodeSet: true, compromised: false, installedApps: [] as string[] };
const PROFILE = { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'fault-phones' }, spec: { platforms: ['android'], ownership: 'corporate' } };
const BASELINE = {
  apiVersion: 'emmctl/v1',
  kind: 'CompliancePolicy',
  metadata: { name: 'fault-baseline' },
  spec: { assign: ['all'], rules: { encryption: 'required' }, actions: [{ after: '0d', do: 'lock' }] },
};
const policy = (name: string) => ({ apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name }, spec: { assign: ['all'], settings: { encryption: 'required' } } });

type Outcome = Answer | Lost;
const isLost = (o: Outcome): o is Lost => 'lost' in o;

/** success, a documented error (the API's error body; 503 carries Retry-After), or a lost connection. */
function classify(o: Outcome): 'success' | 'documented' | 'lost' | 'undocumented' {
  if (isLost(o)) return 'lost';
  if (o.status === 200 || o.status === 204) return 'success';
  const documented = o.status >= 400 && o.status < 500 ? typeof o.body?.error?.code === 'string' : o.status === 503 && o.headers.get('retry-after') !== null;
  return documented ? 'documented' : 'undocumented';
}

function tally(outcomes: Outcome[]): Record<string, number> {
  const t: Record<string, number> = { success: 0, documented: 0, lost: 0, undocumented: 0 };
  for (const o of outcomes) t[classify(o)]!++;
  return t;
}

async function seed(fleet: ReplicaSet, devices: number): Promise<Array<{ deviceId: string; credential: string }>> {
  const applied = await fleet.call('POST', '/v1/resources/apply', {
    token: fleet.admin,
    body: { changes: [
      { op: 'create', kind: 'EnrollmentProfile', name: PROFILE.metadata.name, document: PROFILE },
      { op: 'create', kind: 'CompliancePolicy', name: BASELINE.metadata.name, document: BASELINE },
    ] },
  });
  expect(applied.status, JSON.stringify(applied.body)).toBe(200);
  const token = await fleet.call('POST', '/v1/enrollment-tokens', { token: fleet.admin, body: { profile: PROFILE.metadata.name } });
  return inParallel(Array.from({ length: devices }, (_, i) => i), 24, async (i) => {
    const r = await fleet.call('POST', '/v1/agent/enroll', { body: { token: token.body.secret, platform: 'android', serial: `FAULT-${randomUUID()}-${i}`, osVersion: '14' } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  });
}

describe('a replica killed with SIGKILL under load', () => {
  let db: FreshDatabase;
  let fleet: ReplicaSet;
  beforeAll(async () => {
    db = await freshDatabase();
    fleet = await startReplicas({ databaseUrl: db.url, count: 3, args: SERVER_ARGS });
  });
  afterAll(async () => {
    await fleet?.stop();
    await db?.drop();
  });

  it('loses nothing acknowledged and doubles nothing during a command burst, applies and a check-in storm; the other replicas keep serving', async () => {
    const devices = await seed(fleet, 60);
    const victim = 1;
    let answered = 0;
    let killed = false;
    let killing: Promise<void> | undefined;
    // The kill comes when a third of the requests have been answered: mid-burst by count, not by clock.
    const track = async <T extends Outcome>(p: Promise<T>): Promise<T> => {
      const o = await p;
      if (++answered === 80) killing = fleet.kill(victim).then(() => { killed = true; });
      return o;
    };
    const reboots = devices.map((d) => ({ deviceId: d.deviceId, key: randomUUID() }));
    const applies = Array.from({ length: 6 }, (_, i) => ({ key: randomUUID(), names: Array.from({ length: 4 }, (_, k) => `fault-${i}-${k}`) }));
    const applyBody = (a: (typeof applies)[number]) => ({ changes: a.names.map((name) => ({ op: 'create', kind: 'Policy', name, document: policy(name) })) });
    const sendReboot = (r: (typeof reboots)[number], replica?: number) => fleet.attempt('POST', '/v1/commands', {
      token: fleet.admin, replica, headers: { 'idempotency-key': r.key }, body: { type: 'reboot', deviceIds: [r.deviceId], reason: 'fault test' },
    });
    const sendApply = (a: (typeof applies)[number], replica?: number) => fleet.attempt('POST', '/v1/resources/apply', { token: fleet.admin, replica, headers: { 'idempotency-key': a.key }, body: applyBody(a) });
    const checkIns = devices.flatMap((d) => [d, d, d]);

    // The applies are made to wait inside their transactions (an apply first takes the resource
    // generation row, which the test holds), so those on the victim are in flight when it dies.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    let applyOut: Outcome[];
    let rebootOut: Outcome[];
    let checkInOut: Outcome[];
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT value FROM meta WHERE key = 'resource_generation' FOR UPDATE");
      const appliesDone = Promise.all(applies.map((a) => sendApply(a)));
      await until('every apply waits on the generation row', async () => {
        const r = await adminQuery(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${db.name}' AND wait_event_type = 'Lock' AND query LIKE 'UPDATE meta%'`);
        return r.rows[0].n === applies.length;
      });
      [rebootOut, checkInOut] = await Promise.all([
        inParallel(reboots, 12, (r) => track(sendReboot(r))),
        inParallel(checkIns, 24, (d) => track(fleet.attempt('POST', '/v1/agent/checkin', { device: d.credential, body: { posture: POSTURE } }))),
      ]);
      await killing;
      await holder.query('COMMIT');
      applyOut = await appliesDone;
    } finally {
      await holder.end();
    }
    expect(killed).toBe(true);
    // Round-robin put two applies on the victim: their answers are lost, the others' arrive.
    expect(applyOut.map((o) => (isLost(o) ? `lost on ${o.replica}` : `${o.status} from ${o.replica}`))).toEqual(
      applyOut.map((o) => (o.replica === victim ? `lost on ${victim}` : `200 from ${o.replica}`)));
    expect(applyOut.filter(isLost).length).toBe(2);
    const all = [...rebootOut, ...applyOut, ...checkInOut];
    const t = tally(all);
    const fromLive = all.filter((o) => o.replica !== victim);
    console.log(`kill -9 of replica ${victim}: ${all.length} requests → ${t.success} succeeded, ${t.documented} documented errors, ${t.lost} lost connections (all on replica ${victim}: ${all.filter(isLost).every((o) => o.replica === victim)}), ${t.undocumented} other; live replicas answered ${fromLive.filter((o) => classify(o) === 'success').length}/${fromLive.length}`);
    expect(t.undocumented).toBe(0);
    // The others kept serving: every request they took succeeded.
    expect(fromLive.map(classify).filter((c) => c !== 'success')).toEqual([]);
    expect(all.filter(isLost).every((o) => o.replica === victim)).toBe(true);

    // A client that lost its answer retries with the same key elsewhere, as the CLI does.
    const live = [0, 2];
    const rebootFinal = await Promise.all(reboots.map(async (r, i) => (isLost(rebootOut[i]!) ? await sendReboot(r, live[i % 2]) : rebootOut[i]!) as Answer));
    const applyFinal = await Promise.all(applies.map(async (a, i) => (isLost(applyOut[i]!) ? await sendApply(a, live[i % 2]) : applyOut[i]!) as Answer));
    expect(rebootFinal.map((r) => r.status)).toEqual(reboots.map(() => 200));
    expect(applyFinal.map((r) => r.status)).toEqual(applies.map(() => 200));
    // Devices whose check-in was lost check in again (the agent would): every device then has reported.
    await Promise.all(devices.map((d, i) => fleet.call('POST', '/v1/agent/checkin', { device: d.credential, body: { posture: POSTURE }, replica: live[i % 2] })));

    const commands = await fleet.all('/v1/commands');
    const rebootCmds = commands.filter((c) => c.type === 'reboot');
    const lockCmds = commands.filter((c) => c.type === 'lock');
    // Every acknowledged command exists, exactly once per device, and is the one the answer named.
    expect(new Set(rebootCmds.map((c) => c.id))).toEqual(new Set(rebootFinal.map((r) => r.body.results[0].command.id)));
    expect(rebootCmds.length).toBe(devices.length);
    expect(new Set(rebootCmds.map((c) => c.deviceId)).size).toBe(devices.length);
    expect(lockCmds.length).toBe(devices.length);
    expect(new Set(lockCmds.map((c) => c.deviceId)).size).toBe(devices.length);
    // Applies: all or nothing, once each.
    const resources = (await fleet.call('GET', '/v1/resources?kind=Policy', { token: fleet.admin })).body.items as Array<{ name: string; version: number }>;
    const names = applies.flatMap((a) => a.names);
    expect(resources.filter((r) => r.name.startsWith('fault-')).map((r) => [r.name, r.version]).sort()).toEqual(names.map((n) => [n, 1]).sort());
    const auditRows = await fleet.all('/v1/audit');
    expect(auditRows.filter((a) => a.action === 'apply' && a.target.startsWith('Policy/fault-')).length).toBe(names.length);
    expect(auditRows.filter((a) => a.action === 'command.reboot').length).toBe(devices.length);
    expect(auditRows.filter((a) => a.action === 'command.lock').length).toBe(devices.length);
    console.log(`after the kill: ${rebootCmds.length} reboots / ${devices.length} requested (${rebootOut.filter(isLost).length} retried after a lost answer), ${lockCmds.length} locks / ${devices.length} devices, ${names.length} policies from ${applies.length} applies (${applyOut.filter(isLost).length} retried)`);

    // The replica comes back in its place and serves the same data.
    const back = await fleet.restart(victim);
    const r = await fleet.call('GET', `/v1/commands/${rebootCmds[0]!.id}`, { token: fleet.admin, replica: back.index });
    expect(r.status).toBe(200);
  });
});

describe('PostgreSQL stopped and started again under load', () => {
  let cluster: Cluster;
  let fleet: ReplicaSet;
  beforeAll(async () => {
    cluster = await startCluster();
    await adminQuery('CREATE DATABASE emmctl_restart', cluster.adminUrl);
    const url = new URL(cluster.adminUrl);
    url.pathname = '/emmctl_restart';
    fleet = await startReplicas({ databaseUrl: url.toString(), count: 2, args: SERVER_ARGS });
  });
  afterAll(async () => {
    await fleet?.stop();
    await cluster?.stop();
  });

  it('answers 503 + Retry-After while the database is down, /readyz 503 then 200, /healthz 200 throughout; the CLI retries into success; nothing half-written', async () => {
    const devices = await seed(fleet, 20);
    const dir = mkdtempSync(join(tmpdir(), 'emmctl-restart-'));
    try {
      // Load throughout: check-ins and multi-change applies, round-robin, until told to stop.
      let loading = true;
      const outcomes: Outcome[] = [];
      const applied: Array<{ names: string[]; outcome: Outcome }> = [];
      let round = 0;
      const load = Promise.all([
        (async () => {
          while (loading) {
            for (const d of devices) outcomes.push(await fleet.attempt('POST', '/v1/agent/checkin', { device: d.credential, body: { posture: POSTURE } }));
          }
        })(),
        (async () => {
          while (loading) {
            const names = Array.from({ length: 3 }, (_, k) => `restart-${round}-${k}`);
            round++;
            const outcome = await fleet.attempt('POST', '/v1/resources/apply', {
              token: fleet.admin, body: { changes: names.map((name) => ({ op: 'create', kind: 'Policy', name, document: policy(name) })) },
            });
            applied.push({ names, outcome });
          }
        })(),
      ]);
      await until('load is running', async () => outcomes.length > 20 && applied.length > 2);

      await cluster.pause();
      // Down: every replica says so on /readyz, stays alive on /healthz, and refuses work with 503 + Retry-After.
      for (const r of fleet.replicas) {
        const ready = await fleet.call('GET', '/readyz', { replica: r.index });
        const health = await fleet.call('GET', '/healthz', { replica: r.index });
        const work = await fleet.call('POST', '/v1/agent/checkin', { replica: r.index, device: devices[0]!.credential, body: { posture: POSTURE } });
        expect([ready.status, ready.headers.get('retry-after') !== null, health.status]).toEqual([503, true, 200]);
        // The device credential cannot even be checked: authentication needs the database too.
        expect([work.status, work.body.error.code, Number(work.headers.get('retry-after')) > 0]).toEqual([503, 'unavailable', true]);
      }
      // The CLI's apply, started while the database is down: it is answered 503, waits Retry-After, retries.
      writeFileSync(join(dir, 'p.yaml'), JSON.stringify(policy('restart-cli')));
      const cli = spawn(process.execPath, [BIN, '--debug', 'apply', dir, '--yes'], {
        env: cliEnv({ EMMCTL_SERVER: fleet.replicas[0]!.url, EMMCTL_TOKEN: fleet.admin }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let cliErr = '';
      let cliOut = '';
      cli.stderr.setEncoding('utf8').on('data', (d: string) => (cliErr += d));
      cli.stdout.setEncoding('utf8').on('data', (d: string) => (cliOut += d));
      const cliDone = new Promise<number | null>((resolve) => cli.on('close', resolve));
      await until('the CLI was answered 503 and is retrying', async () => /→ 503[\s\S]*retrying/.test(cliErr));
      await cluster.start();
      const code = await cliDone;
      expect(code, cliErr).toBe(0);
      expect(cliOut).toContain('Apply complete: 1 created');

      // Up again: the replicas reconnect by themselves (same processes).
      for (const r of fleet.replicas) await until(`replica ${r.index} is ready`, async () => (await fleet.call('GET', '/readyz', { replica: r.index })).status === 200);
      const after = outcomes.length;
      await until('load succeeds again', async () => outcomes.slice(after).filter((o) => classify(o) === 'success').length > 40);
      loading = false;
      await load;

      const t = tally([...outcomes, ...applied.map((a) => a.outcome)]);
      const with503 = [...outcomes, ...applied.map((a) => a.outcome)].filter((o) => !isLost(o) && o.status === 503);
      console.log(`PostgreSQL restart: ${t.success} succeeded, ${t.documented} documented errors (${with503.length} × 503, all with Retry-After: ${with503.every((o) => !isLost(o) && o.headers.get('retry-after') !== null)}), ${t.lost} lost, ${t.undocumented} other; the CLI apply retried into success`);
      expect(t.undocumented).toBe(0);
      expect(t.lost).toBe(0);
      expect(with503.length).toBeGreaterThan(0);

      // All or nothing: each apply's three policies are all stored or none, and a 200 means all.
      const stored = new Set(((await fleet.call('GET', '/v1/resources?kind=Policy', { token: fleet.admin })).body.items as Array<{ name: string }>).map((r) => r.name));
      for (const a of applied) {
        const present = a.names.filter((n) => stored.has(n)).length;
        expect([a.names[0], present === 0 || present === a.names.length]).toEqual([a.names[0], true]);
        if (classify(a.outcome) === 'success') expect(present).toBe(a.names.length);
        // A 503 says nothing was changed, unless the connection went while committing (then it says it may have been).
        if (classify(a.outcome) === 'documented' && !/may or may not/.test((a.outcome as Answer).body.error.message)) expect(present).toBe(0);
      }
      expect(stored.has('restart-cli')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
