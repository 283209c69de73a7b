// The multi-replica guarantees of issue #8, each hammered concurrently through 3 `emmctl server`
// processes (the built CLI) on one real PostgreSQL database, requests spread round-robin as a load
// balancer without sticky sessions would. Every assertion is a count or a state read back
// through the API, never a timing; the counts are printed so they can be quoted.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { inParallel, startReplicas, until, type Answer, type ReplicaSet } from './replicas.js';

const REPLICAS = 3;
const DEVICES = Number(process.env.EMMCTL_SCALE_DEVICES ?? 300);
const CHECKINS_PER_DEVICE = REPLICAS;
const IN_FLIGHT = 48;
// Reconcile runs on every replica twice a second, alongside the requests, in every test below.
const SERVER_ARGS = ['--rate-limit', 'off', '--device-rate-limit', 'off', '--enroll-rate-limit', 'off', '--tick', '0.5'];

const POSTURE = { osVersion: '14', patchLevel: '2026-10-05', model: 'Pixel 8', encrypted: true, passcodeSet: true, compromised: false, installedApps: [] as string[] };

const PROFILE = { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'scale-phones' }, spec: { platforms: ['android'], ownership: 'corporate' } };
const BASELINE = {
  apiVersion: 'emmctl/v1',
  kind: 'CompliancePolicy',
  metadata: { name: 'scale-baseline' },
  spec: { assign: ['all'], rules: { encryption: 'required' }, actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '0d', do: 'lock' }] },
};
const PASSCODE = {
  apiVersion: 'emmctl/v1',
  kind: 'CompliancePolicy',
  metadata: { name: 'scale-passcode' },
  spec: { assign: ['all'], rules: { passcode: 'required' }, actions: [{ after: '0d', do: 'markNoncompliant' }, { after: '0d', do: 'lock' }] },
};
const WIFI = (ssid: string) => ({ apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name: 'scale-wifi' }, spec: { assign: ['all'], settings: { wifi: [{ ssid, security: 'open' }] } } });

let db: FreshDatabase;
let fleet: ReplicaSet;
// Every replica notifies this receiver of each escalation command (the last test counts them).
let hook: Server;
const received: Array<{ id: string; type: string }> = [];
const secretDir = mkdtempSync(join(tmpdir(), 'emmctl-scale-notify-'));
let enrollSecret: string;
let serial = 0;

function ok(r: Answer, what: string): Answer {
  if (r.status !== 200 && r.status !== 204) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)} (replica ${r.replica})`);
  return r;
}

async function apply(changes: unknown[]): Promise<Answer> {
  return ok(await fleet.call('POST', '/v1/resources/apply', { token: fleet.admin, body: { changes } }), 'apply');
}

async function enrollmentToken(extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const r = ok(await fleet.call('POST', '/v1/enrollment-tokens', { token: fleet.admin, body: { profile: PROFILE.metadata.name, ...extra } }), 'enrollment token');
  return { id: r.body.token.id, secret: r.body.secret };
}

function enrollBody(secret: string): Record<string, unknown> {
  serial += 1;
  return { token: secret, platform: 'android', serial: `SCALE-${process.pid}-${serial}`, osVersion: '14', model: 'Pixel 8', owner: 'ana@example.com' };
}

async function enrollMany(n: number): Promise<Array<{ deviceId: string; credential: string }>> {
  return inParallel(Array.from({ length: n }), IN_FLIGHT, async () => ok(await fleet.call('POST', '/v1/agent/enroll', { body: enrollBody(enrollSecret) }), 'enroll').body);
}

function checkIn(credential: string, posture: Record<string, unknown>, replica?: number): Promise<Answer> {
  return fleet.call('POST', '/v1/agent/checkin', { device: credential, body: { posture }, replica });
}

async function audit(actor?: string): Promise<any[]> {
  return fleet.all('/v1/audit', actor ? { actor } : {});
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of items) m.set(key(t), (m.get(key(t)) ?? 0) + 1);
  return m;
}

beforeAll(async () => {
  hook = createServer((req, res) => {
    req.resume().on('end', () => {
      received.push({ id: String(req.headers['x-emmctl-event-id']), type: String(req.headers['x-emmctl-event']) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  writeFileSync(join(secretDir, 'secret'), 'scale-notify-secret', { mode: 0o600 });
  db = await freshDatabase();
  fleet = await startReplicas({
    databaseUrl: db.url,
    count: REPLICAS,
    args: [...SERVER_ARGS, '--notify-webhook', `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, '--notify-secret-file', join(secretDir, 'secret')],
  });
  await apply([
    { op: 'create', kind: 'EnrollmentProfile', name: PROFILE.metadata.name, document: PROFILE },
    { op: 'create', kind: 'CompliancePolicy', name: BASELINE.metadata.name, document: BASELINE },
  ]);
  enrollSecret = (await enrollmentToken()).secret;
});

afterAll(async () => {
  await fleet?.stop();
  await db?.drop();
  await new Promise((resolve) => hook?.close(resolve));
  rmSync(secretDir, { recursive: true, force: true });
});

describe(`${REPLICAS} emmctl server replicas on one PostgreSQL database`, () => {
  it(`fires an escalation step exactly once per device: ${DEVICES} non-compliant devices × ${CHECKINS_PER_DEVICE} concurrent check-ins through every replica`, async () => {
    const devices = await enrollMany(DEVICES);
    // Each device checks in once through each replica, all at once, interleaved across devices.
    const jobs = devices.flatMap((d) => Array.from({ length: CHECKINS_PER_DEVICE }, (_, k) => ({ d, replica: k })));
    const answers = await inParallel(jobs, IN_FLIGHT, (j) => checkIn(j.d.credential, { ...POSTURE, encrypted: false }, j.replica));
    expect(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body])).toEqual([]);

    const ids = new Set(devices.map((d) => d.deviceId));
    const locks = (await fleet.all('/v1/commands', { type: 'lock' })).filter((c) => ids.has(c.deviceId));
    const auditRows = (await audit(`compliance:${BASELINE.metadata.name}`)).filter((a) => ids.has(a.target.slice('device/'.length)));
    const lockAudits = auditRows.filter((a) => a.action === 'command.lock');
    const markAudits = auditRows.filter((a) => a.action === 'compliance.markNoncompliant');
    console.log(`escalations: ${locks.length} lock commands, ${lockAudits.length} lock audit records, ${markAudits.length} markNoncompliant records for ${DEVICES} devices (expected ${DEVICES} each; ${jobs.length} check-ins through ${REPLICAS} replicas)`);
    expect(locks.length).toBe(DEVICES);
    expect(new Set(locks.map((c) => c.deviceId)).size).toBe(DEVICES);
    expect(lockAudits.length).toBe(DEVICES);
    expect(markAudits.length).toBe(DEVICES);
    // Each audit record names the command its claim queued, and every command has its record.
    expect(new Set(lockAudits.map((a) => a.detail.commandId))).toEqual(new Set(locks.map((c) => c.id)));
    expect(lockAudits.every((a) => a.detail.outcome === 'queued')).toBe(true);
    // Every device's later check-ins were handed the lock (sent), none queued it again.
    expect(locks.every((c) => c.status === 'sent')).toBe(true);
  });

  it('holds an enrollment token to maxUses: 40 concurrent enrollments on a maxUses 5 token, spread over the replicas', async () => {
    const token = await enrollmentToken({ maxUses: 5 });
    const bodies = Array.from({ length: 40 }, () => enrollBody(token.secret));
    const answers = await Promise.all(bodies.map((body) => fleet.call('POST', '/v1/agent/enroll', { body })));
    const accepted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    const stored = (await fleet.call('GET', '/v1/enrollment-tokens', { token: fleet.admin })).body.items.find((t: any) => t.id === token.id);
    console.log(`enrollments: ${accepted.length} accepted / maxUses 5, ${refused.length} refused, token uses = ${stored.uses}`);
    expect(accepted.length).toBe(5);
    expect(refused.map((a) => [a.status, a.body.error.code, a.body.error.message])).toEqual(
      Array.from({ length: 35 }, () => [401, 'unauthorized', `enrollment token ${token.id} has been used 5 of 5 times`]));
    expect(stored.uses).toBe(5);
    // Exactly the accepted serials became devices, and each refusal is in the audit log.
    const serials = new Set(bodies.map((b) => b.serial));
    const enrolled = (await fleet.all('/v1/devices')).filter((d) => serials.has(d.serial));
    expect(enrolled.map((d) => d.id).sort()).toEqual(accepted.map((a) => a.body.deviceId).sort());
    const refusals = (await audit(`enrollment-token:${token.id}`)).filter((a) => a.action === 'enroll.refused');
    expect(refusals.length).toBe(35);
    expect(refusals.every((a) => a.detail.reason === 'token-used-up')).toBe(true);
  });

  it('never queues a second pending wipe or retire for a device: 24 requests with different keys through every replica', async () => {
    const [a, b] = await enrollMany(2);
    for (const [type, device] of [['wipe', a!], ['retire', b!]] as const) {
      const answers = await Promise.all(Array.from({ length: 24 }, () => fleet.call('POST', '/v1/commands', {
        token: fleet.admin, headers: { 'idempotency-key': randomUUID() }, body: { type, deviceIds: [device.deviceId], reason: 'scale test' },
      })));
      expect(answers.map((r) => r.status)).toEqual(Array(24).fill(200));
      const outcomes = answers.map((r) => r.body.results[0]);
      const queued = outcomes.filter((o) => o.outcome === 'queued');
      const pending = outcomes.filter((o) => o.outcome === 'pending');
      const stored = await fleet.all('/v1/commands', { type, deviceId: device.deviceId });
      console.log(`${type}s: ${stored.length} queued / 24 requested (${queued.length} queued, ${pending.length} answered pending)`);
      expect(queued.length).toBe(1);
      expect(pending.length).toBe(23);
      // The others are told which command is pending: the one that was queued.
      expect(new Set(pending.map((o) => o.command.id))).toEqual(new Set([queued[0].command.id]));
      expect(pending.every((o) => o.message === `a ${type} command is already ${o.command.status} (${queued[0].command.id})`)).toBe(true);
      expect(stored.map((c) => c.id)).toEqual([queued[0].command.id]);
      const audits = (await audit('scale-admin')).filter((r) => r.action === `command.${type}` && r.target === `device/${device.deviceId}`);
      expect(audits.length).toBe(1);
    }
  });

  it('through the CLI: `emmctl wipe` run at once against each replica queues one wipe; the others report already pending', async () => {
    const [d] = await enrollMany(1);
    const runs = await Promise.all(fleet.replicas.map((_, i) => fleet.cli(['wipe', d!.deviceId, '--yes', '-o', 'json'], i)));
    expect(runs.map((r) => [r.code, r.stderr])).toEqual(runs.map((r) => [0, r.stderr]));
    const records = runs.map((r) => JSON.parse(r.stdout)[0]);
    expect(records.map((r) => r.outcome).sort()).toEqual(['already-pending', 'already-pending', 'queued']);
    expect(new Set(records.map((r) => r.commandId)).size).toBe(1);
    expect((await fleet.all('/v1/commands', { type: 'wipe', deviceId: d!.deviceId })).length).toBe(1);
  });

  it('gives an idempotency key one result across replicas: the same request sent 4 times to each replica at once', async () => {
    const [d] = await enrollMany(1);
    const key = randomUUID();
    const body = { type: 'lock', deviceIds: [d!.deviceId], reason: 'idempotent' };
    const answers = await Promise.all(Array.from({ length: 4 * REPLICAS }, (_, i) => fleet.call('POST', '/v1/commands', {
      token: fleet.admin, headers: { 'idempotency-key': key }, body, replica: i % REPLICAS,
    })));
    const texts = new Set(answers.map((r) => JSON.stringify([r.status, r.body])));
    const stored = await fleet.all('/v1/commands', { deviceId: d!.deviceId });
    console.log(`idempotency: ${answers.length} requests with one key → ${texts.size} distinct response, ${stored.length} command`);
    expect(answers.map((r) => r.status)).toEqual(Array(answers.length).fill(200));
    expect(texts.size).toBe(1);
    expect(answers[0]!.body.results[0].outcome).toBe('queued');
    expect(stored.map((c) => c.id)).toEqual([answers[0]!.body.results[0].command.id]);
    // The key is bound to its request: another body under it is refused, whichever replica takes it.
    const other = await fleet.call('POST', '/v1/commands', { token: fleet.admin, headers: { 'idempotency-key': key }, body: { ...body, type: 'reboot' } });
    expect([other.status, other.body.error.message]).toEqual([409, `idempotency key "${key}" was already used for a different request`]);
  });

  it('lets one of several concurrent applies against one version win; the others get the stale-plan error (CLI, saved plans, every replica)', async () => {
    await apply([{ op: 'create', kind: 'Policy', name: 'scale-wifi', document: WIFI('corp-1') }]);
    const dir = mkdtempSync(join(tmpdir(), 'emmctl-scale-'));
    try {
      writeFileSync(join(dir, 'wifi.yaml'), JSON.stringify(WIFI('corp-2')));
      // A plan per replica (a plan names the server it was made for), all against version 1 before any is applied.
      const plans = Array.from({ length: REPLICAS }, (_, i) => ({ file: join(dir, `plan-${i}.json`), replica: i }));
      const made = await Promise.all(plans.map((p) => fleet.cli(['plan', dir, '--out', p.file], p.replica)));
      expect(made.map((r) => [r.code, r.stderr])).toEqual(made.map((r) => [0, r.stderr]));
      const runs = await Promise.all(plans.map((p) => fleet.cli(['apply', '--plan', p.file, '--yes'], p.replica)));
      const won = runs.filter((r) => r.code === 0);
      const stale = runs.filter((r) => r.code !== 0);
      console.log(`applies: ${won.length} won / ${runs.length} concurrent against version 1, ${stale.length} refused as stale`);
      expect(won.length).toBe(1);
      expect(stale.map((r) => r.code)).toEqual(Array(runs.length - 1).fill(1));
      for (const r of stale) expect(r.stderr).toContain('plan is stale: Policy/scale-wifi changed (version 2, plan expected 1); run emmctl plan again');
      const stored = (await fleet.call('GET', '/v1/resources?kind=Policy', { token: fleet.admin })).body.items.find((x: any) => x.name === 'scale-wifi');
      expect([stored.version, stored.document.spec.settings.wifi[0].ssid]).toEqual([2, 'corp-2']);
      const applies = (await audit('scale-admin')).filter((a) => a.action === 'apply' && a.target === 'Policy/scale-wifi');
      expect(applies.map((a) => a.detail.op)).toEqual(['create', 'update']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps references whole under concurrent applies: deleting a group races a policy that assigns it, 20 rounds through two replicas', async () => {
    const rounds = 20;
    let both = 0;
    let neither = 0;
    for (let i = 0; i < rounds; i++) {
      const group = `scale-race-${i}`;
      await apply([{ op: 'create', kind: 'Group', name: group, document: { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name: group }, spec: { match: { platforms: ['ios'] } } } }]);
      const policy = { apiVersion: 'emmctl/v1', kind: 'Policy', metadata: { name: group }, spec: { assign: [group], settings: { encryption: 'required' } } };
      const [del, add] = await Promise.all([
        fleet.call('POST', '/v1/resources/apply', { token: fleet.admin, replica: i % REPLICAS, body: { changes: [{ op: 'delete', kind: 'Group', name: group, expectedVersion: 1 }] } }),
        fleet.call('POST', '/v1/resources/apply', { token: fleet.admin, replica: (i + 1) % REPLICAS, body: { changes: [{ op: 'create', kind: 'Policy', name: group, document: policy }] } }),
      ]);
      if (del.status === 200 && add.status === 200) both++;
      if (del.status !== 200 && add.status !== 200) neither++;
      // The loser is told the reference it would break (or miss), and nothing of it was applied.
      const loser = del.status === 200 ? add : del;
      if (loser.status !== 200) expect(loser.body.error.message).toMatch(new RegExp(`refers to group "${group}"|group "${group}"`));
    }
    const resources = (await fleet.call('GET', '/v1/resources', { token: fleet.admin })).body.items as any[];
    const groups = new Set(['all', ...resources.filter((r) => r.kind === 'Group').map((r) => r.name)]);
    const dangling = resources.filter((r) => r.kind !== 'Group' && Array.isArray(r.document.spec?.assign) && r.document.spec.assign.some((g: string) => !groups.has(g)));
    console.log(`reference races: ${rounds} rounds, ${rounds - both - neither} with exactly one apply winning, ${both} with both, ${neither} with neither; ${dangling.length} dangling references`);
    expect(dangling.map((r) => `${r.kind}/${r.name}`)).toEqual([]);
    expect(both).toBe(0);
    expect(neither).toBe(0);
  });

  it('spreads reconcile over the replicas without doubling: a new policy escalates devices that never check in again, and aged commands expire once', async () => {
    const n = 100;
    const devices = await enrollMany(n);
    // Compliant with everything applied so far (encrypted), no passcode: the next policy fails them.
    await inParallel(devices, IN_FLIGHT, async (d) => ok(await checkIn(d.credential, { ...POSTURE, passcodeSet: false }), 'check-in'));
    await apply([{ op: 'create', kind: 'CompliancePolicy', name: PASSCODE.metadata.name, document: PASSCODE }]);
    const ids = new Set(devices.map((d) => d.deviceId));
    const lockAudits = async () => (await audit(`compliance:${PASSCODE.metadata.name}`)).filter((a) => a.action === 'command.lock' && ids.has(a.target.slice(7)));
    // Only reconcile can fire these steps: the devices do not check in again.
    await until(`reconcile escalated all ${n} devices`, async () => (await lockAudits()).length >= n);

    // Commands whose time ran out (aged in the database, as 30 days would), expired by whichever
    // replica's reconcile comes first, three times over, so several passes run on every replica.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      for (let round = 0; round < 3; round++) {
        const aged = await client.query<{ id: string }>(
          "UPDATE commands SET expires_at = '2000-01-01T00:00:00.000Z' WHERE device_id = ANY($1) AND status IN ('queued', 'sent') AND type = 'lock' AND id IN (SELECT id FROM commands WHERE device_id = ANY($1) AND status IN ('queued', 'sent') ORDER BY seq LIMIT 10) RETURNING id",
          [[...ids]]);
        expect(aged.rowCount).toBe(10);
        const agedIds = aged.rows.map((r) => r.id);
        await until('reconcile expired the aged commands', async () => {
          const rows = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM commands WHERE id = ANY($1) AND status = 'expired'", [agedIds]);
          return rows.rows[0]!.n === agedIds.length;
        });
      }
    } finally {
      await client.end();
    }
    const locks = (await fleet.all('/v1/commands', { type: 'lock' })).filter((c) => ids.has(c.deviceId));
    const audits = await lockAudits();
    const byStatus = countBy(locks, (c) => c.status);
    console.log(`reconcile: ${audits.length} lock audit records, ${locks.length} lock commands for ${n} devices (expected ${n}); ${byStatus.get('expired') ?? 0} expired (expected 30), ${byStatus.get('queued') ?? 0} still queued`);
    expect(audits.length).toBe(n);
    expect(locks.length).toBe(n);
    expect(new Set(locks.map((c) => c.deviceId)).size).toBe(n);
    expect(byStatus.get('expired')).toBe(30);
    expect(byStatus.get('queued')).toBe(n - 30);
  });

  it('delivers an event whose transaction committed after a later one was delivered (outbox seqs are not in commit order)', async () => {
    const [early, later] = await enrollMany(2);
    // A slow writer (a replica's transaction) takes an outbox seq first and commits last.
    const slow = new pg.Client({ connectionString: db.url });
    await slow.connect();
    try {
      await slow.query('BEGIN');
      const body = JSON.stringify({ type: 'escalation.notify', id: 'evt_late_commit', occurredAt: new Date().toISOString(), device: { id: early!.deviceId }, policy: 'scale-baseline' });
      await slow.query('INSERT INTO notify_outbox (event_id, device_id, event, created_at) VALUES ($1, $2, $3, $4)', ['evt_late_commit', early!.deviceId, body, new Date().toISOString()]);
      ok(await checkIn(later!.credential, { ...POSTURE, encrypted: false }), 'check-in');
      const laterLock = (await fleet.all('/v1/commands', { deviceId: later!.deviceId, type: 'lock' }))[0];
      await until('the later event was delivered', async () => received.some((r) => r.type === 'escalation.command') && (await fleet.all('/v1/audit', { actor: 'server:notify' })).some((a) => a.target === `device/${later!.deviceId}`));
      expect(laterLock).toBeDefined();
      await slow.query('COMMIT');
    } finally {
      await slow.end();
    }
    await until('the late-committed event was delivered', async () => received.some((r) => r.id === 'evt_late_commit'));
  });

  it('delivers each escalation event once, not once per replica (the notifier holds a lease row)', async () => {
    // Every lock the tests above had escalation queue is one escalation.command event, plus the one late-committed event.
    const queuedByEscalation = (await fleet.all('/v1/audit')).filter((a) => a.actor.startsWith('compliance:') && a.action === 'command.lock' && a.detail.outcome === 'queued');
    const n = queuedByEscalation.length + 1;
    // Delivered means recorded: each event's outcome is audited once it has left the outbox.
    const delivered = async () => (await fleet.all('/v1/audit', { actor: 'server:notify' })).filter((a) => a.action === 'notify.delivered');
    await until(`all ${n} events delivered`, async () => (await delivered()).length >= n).catch(async (error: Error) => {
      const state = await adminQuery('SELECT (SELECT count(*)::int FROM notify_outbox) AS outbox, (SELECT json_agg(l) FROM leases l) AS leases', db.url);
      throw new Error(`${error.message}: ${(await delivered()).length} delivered, ${received.length} received, ${JSON.stringify(state.rows[0])}; replica logs:\n${fleet.replicas.map((r) => r.stderr().slice(-1500)).join('\n---\n')}`);
    });
    expect((await adminQuery('SELECT count(*)::int AS n FROM notify_outbox', db.url)).rows[0].n).toBe(0);
    const ids = countBy(received, (r) => r.id);
    const twice = [...ids.values()].filter((c) => c > 1).length;
    console.log(`notifier: ${received.length} webhook deliveries of ${ids.size} events for ${n} escalation locks through ${REPLICAS} replicas (${twice} events delivered more than once); ${(await delivered()).length} delivery audit records`);
    expect(ids.size).toBe(n);
    expect(twice).toBe(0);
    expect(received.length).toBe(n);
    expect(received.filter((r) => r.type !== 'escalation.command').map((r) => r.id)).toEqual(['evt_late_commit']);
    expect((await delivered()).length).toBe(n);
  });
});
