// Reconcile spread over 3 `emmctl server` processes on one PostgreSQL database (issue #8): each
// enrolled device is evaluated once per pass summed over the replicas, not once per replica, and
// with a replica killed the others still finish every pass. The counts come from the pages the
// replicas recorded in the database, each in the transaction that evaluated it (so what they say
// was done was committed), and are printed so they can be quoted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { inParallel, startReplicas, until, type Answer, type ReplicaSet } from './replicas.js';

const REPLICAS = 3;
// Three pages of 500: as many as replicas, so a pass can be split three ways.
const DEVICES = Number(process.env.EMMCTL_SCALE_RECONCILE_DEVICES ?? 1500);
const TICK_SECONDS = 2;
const PROFILE = { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'spread-phones' }, spec: { platforms: ['android'], ownership: 'corporate' } };

let db: FreshDatabase;
let fleet: ReplicaSet;

function ok(r: Answer, what: string): Answer {
  if (r.status !== 200 && r.status !== 204) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)} (replica ${r.replica})`);
  return r;
}

interface PassCount {
  pass: number;
  pages: number;
  evaluated: number;
  byHolder: Map<string, number>;
}

/** Passes that started after `afterPass` and are finished (every page handed out and done), with their counts. */
async function finishedPasses(afterPass: number): Promise<PassCount[]> {
  const rows = (await adminQuery(`SELECT pass::int AS pass, done_by, evaluated, final, done_at FROM reconcile_pages WHERE pass > ${afterPass} ORDER BY pass, after_id`, db.url)).rows as Array<{ pass: number; done_by: string | null; evaluated: number; final: number; done_at: string | null }>;
  const passes = new Map<number, typeof rows>();
  for (const r of rows) passes.set(r.pass, [...(passes.get(r.pass) ?? []), r]);
  const out: PassCount[] = [];
  for (const [pass, pages] of passes) {
    if (!pages.some((p) => p.final === 1) || pages.some((p) => p.done_at === null)) continue;
    const byHolder = new Map<string, number>();
    for (const p of pages) byHolder.set(p.done_by!, (byHolder.get(p.done_by!) ?? 0) + p.evaluated);
    out.push({ pass, pages: pages.length, evaluated: pages.reduce((a, p) => a + p.evaluated, 0), byHolder });
  }
  return out;
}

async function latestPass(): Promise<number> {
  return (await adminQuery('SELECT COALESCE(MAX(pass), 0)::int AS n FROM reconcile_passes', db.url)).rows[0].n;
}

function describePass(p: PassCount): string {
  return `pass ${p.pass}: ${p.evaluated} evaluations / ${DEVICES} devices = ${(p.evaluated / DEVICES).toFixed(2)} (${p.pages} pages; per replica ${[...p.byHolder.values()].join(' + ')})`;
}

beforeAll(async () => {
  db = await freshDatabase();
  fleet = await startReplicas({ databaseUrl: db.url, count: REPLICAS, args: ['--rate-limit', 'off', '--device-rate-limit', 'off', '--enroll-rate-limit', 'off', '--tick', String(TICK_SECONDS)] });
  ok(await fleet.call('POST', '/v1/resources/apply', { token: fleet.admin, body: { changes: [{ op: 'create', kind: 'EnrollmentProfile', name: PROFILE.metadata.name, document: PROFILE }] } }), 'apply');
  const token = ok(await fleet.call('POST', '/v1/enrollment-tokens', { token: fleet.admin, body: { profile: PROFILE.metadata.name } }), 'token').body.secret;
  await inParallel(Array.from({ length: DEVICES }, (_, i) => i), 48, async (i) =>
    ok(await fleet.call('POST', '/v1/agent/enroll', { body: { token, platform: 'android', serial: `SPREAD-${process.pid}-${i}`, osVersion: '14', model: 'Pixel 8' } }), 'enroll'));
}, 300_000);

afterAll(async () => {
  await fleet?.stop();
  await db?.drop();
});

describe(`reconcile over ${REPLICAS} emmctl server replicas and ${DEVICES} devices`, () => {
  it('evaluates each enrolled device once per pass, summed over the replicas', async () => {
    // Passes that started once every device was enrolled cover them all.
    const from = await latestPass();
    let passes: PassCount[] = [];
    await until('three whole passes after enrollment', async () => (passes = await finishedPasses(from)).length >= 3, 120_000);
    for (const p of passes) console.log(`reconcile spread: ${describePass(p)}`);
    for (const p of passes) expect(p.evaluated).toBe(DEVICES);
    const holders = new Set(passes.flatMap((p) => [...p.byHolder.keys()]));
    console.log(`reconcile spread: ${holders.size} of ${REPLICAS} replicas evaluated pages in these passes`);
  }, 180_000);

  it('finishes every pass with a replica killed (its page, if it held one, is taken over when the lease runs out)', async () => {
    await fleet.kill(1);
    const from = await latestPass();
    let passes: PassCount[] = [];
    await until('two whole passes after the kill', async () => (passes = await finishedPasses(from)).length >= 2, 120_000);
    for (const p of passes) console.log(`reconcile after kill -9 of replica 1: ${describePass(p)}`);
    for (const p of passes) expect(p.evaluated).toBe(DEVICES);
  }, 180_000);
});
