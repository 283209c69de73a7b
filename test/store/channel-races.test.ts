// Device-channel races between real processes: several node processes, each with its own store
// handle (its own PostgreSQL pool, or its own SQLite connection on one data dir), as several
// `emmctl server` replicas running the Android channel would be. Each is released at once and
// takes in one new channel device several times over while trying to begin the send of one
// queued command: one device, one token use and one enroll audit must come out, and exactly one
// sender, however the processes interleave.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelDeviceIntake } from '../../src/model/channels.js';
import type { ResourceDocument } from '../../src/model/policy.generated.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { openPostgres } from '../../src/store/postgres/index.js';
import { tempDir } from '../helpers/cli.js';
import { freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
// @ts-expect-error plain ESM helper shared with the benchmarks
import { bundleStore } from './bundle-store.mjs';
import { ADMIN, createAll, posture } from './fixtures.js';

const PROCESSES = 4;
const CALLS = 5;
const E = 'enterprises/LCraces';
const DOCS: ResourceDocument[] = [
  { apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'baseline' }, spec: { assign: ['all'], rules: { encryption: 'required' } } },
  { apiVersion: 'emmctl/v1', kind: 'EnrollmentProfile', metadata: { name: 'corp' }, spec: { platforms: ['android'], ownership: 'corporate' } },
];

function intake(n: number): ChannelDeviceIntake {
  return {
    channel: 'android', ref: `${E}/devices/d${n}`, tokenRef: `${E}/enrollmentTokens/t1`, serial: `RACE-${n}`, ownership: 'corporate', mode: 'fm', osVersion: '14',
    posture: posture({ encrypted: true }), reportedAt: '2026-01-01T00:00:00.000Z', failures: [],
  };
}

const dirs: Array<{ cleanup(): void }> = [];
const databases: FreshDatabase[] = [];
let bundleUrl: string;
beforeAll(async () => {
  const dir = tempDir('emmctl-channel-races-');
  dirs.push(dir);
  bundleUrl = await bundleStore(dir.path);
}, 60_000);
afterAll(async () => {
  for (const db of databases) await db.drop();
  dirs.forEach((d) => d.cleanup());
});

/** The script each process runs: open, wait for "go" on stdin, race, print the outcomes as one JSON line. */
function raceScript(open: string, commandId: string): string {
  return `
const { FleetService, openPostgres } = await import(${JSON.stringify(bundleUrl)});
const store = ${open};
const intake = ${JSON.stringify(intake(2))};
process.stdout.write('ready\\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
const results = await Promise.all([
  ...Array.from({ length: ${CALLS} }, () => store.intakeChannelDevice(intake, 'race')),
  ...Array.from({ length: ${CALLS} }, () => store.beginChannelSend(${JSON.stringify(commandId)}, { method: 'issueCommand', body: { type: 'LOCK' } })),
]);
process.stdout.write(JSON.stringify({ intakes: results.slice(0, ${CALLS}), begun: results.slice(${CALLS}) }) + '\\n');
await store.close();
`;
}

/** Starts every process, releases them together once all are ready, and collects what each printed. */
async function race(script: string, dir: string): Promise<Array<{ intakes: Array<{ outcome: string; deviceId?: string }>; begun: boolean[] }>> {
  const file = join(dir, 'race.mjs');
  writeFileSync(file, script);
  const children = Array.from({ length: PROCESSES }, () => spawn(process.execPath, [file], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const outputs = children.map((child) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => out.includes('ready\n') && resolve());
      child.on('exit', (code) => reject(new Error(`race process exited (${code}) before it was ready: ${err}`)));
    });
    const done = new Promise<string>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`race process exited ${code}: ${err}`)))));
    return { child, ready, done };
  });
  await Promise.all(outputs.map((o) => o.ready));
  for (const o of outputs) o.child.stdin.end('go\n');
  return (await Promise.all(outputs.map((o) => o.done))).map((out) => JSON.parse(out.split('\n').filter(Boolean).pop()!));
}

/** Policies, a channel token, one channel device with a queued lock: what the processes race on. */
async function prepare(store: FleetService): Promise<{ tokenId: string; commandId: string }> {
  await store.applyChanges(createAll(DOCS), ADMIN);
  const { token } = await store.createEnrollmentToken({ profile: 'corp' }, ADMIN);
  await store.recordChannelToken(token.id, 'android', `${E}/enrollmentTokens/t1`, `${E}/policies/initial`);
  const { deviceId } = await store.intakeChannelDevice(intake(1));
  const queued = await store.enqueueCommands({ deviceIds: [deviceId!], type: 'lock', idempotencyKey: 'race-lock' }, ADMIN);
  return { tokenId: token.id, commandId: queued.results[0]!.command!.id };
}

async function verify(store: FleetService, tokenId: string, results: Awaited<ReturnType<typeof race>>): Promise<void> {
  const intakes = results.flatMap((r) => r.intakes);
  expect(intakes).toHaveLength(PROCESSES * CALLS);
  expect(intakes.filter((r) => r.outcome === 'enrolled')).toHaveLength(1);
  // Every other intake found it taken in with the same report: nothing newer.
  expect(intakes.filter((r) => r.outcome === 'stale')).toHaveLength(PROCESSES * CALLS - 1);
  expect(new Set(intakes.map((r) => r.deviceId)).size).toBe(1);
  expect(results.flatMap((r) => r.begun).filter(Boolean)).toHaveLength(1);
  const devices = (await store.listDevices({ limit: 100 })).items.filter((d) => d.serial === 'RACE-2');
  expect(devices).toHaveLength(1);
  expect(devices[0]!.id).toBe(intakes[0]!.deviceId);
  expect((await store.listEnrollmentTokens()).find((t) => t.id === tokenId)!.uses).toBe(2);
  const enrolls = (await store.listAudit({ limit: 1000 })).items.filter((a) => a.action === 'enroll' && a.detail?.ref === `${E}/devices/d2`);
  expect(enrolls).toHaveLength(1);
  expect((await store.listAudit({ limit: 1000 })).items.filter((a) => a.action === 'enroll.refused')).toEqual([]);
}

describe('device channel races between processes', () => {
  it(`PostgreSQL: ${PROCESSES} processes on one database take one new device in once and begin one command's send once`, async () => {
    const db = await freshDatabase();
    databases.push(db);
    const store = new FleetService((await openPostgres(db.url)).engine);
    try {
      const { tokenId, commandId } = await prepare(store);
      const dir = tempDir('emmctl-channel-race-pg-');
      dirs.push(dir);
      const results = await race(raceScript(`new FleetService((await openPostgres(${JSON.stringify(db.url)})).engine)`, commandId), dir.path);
      await verify(store, tokenId, results);
    } finally {
      await store.close();
    }
  }, 120_000);

  it(`SQLite: ${PROCESSES} processes on one data dir take one new device in once and begin one command's send once`, async () => {
    const dir = tempDir('emmctl-channel-race-sqlite-');
    dirs.push(dir);
    const dataDir = join(dir.path, 'data');
    const store = await FleetService.open(dataDir);
    try {
      const { tokenId, commandId } = await prepare(store);
      const results = await race(raceScript(`await FleetService.open(${JSON.stringify(dataDir)})`, commandId), dir.path);
      await verify(store, tokenId, results);
    } finally {
      await store.close();
    }
  }, 120_000);
});
