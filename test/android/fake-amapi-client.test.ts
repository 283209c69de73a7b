// The fake Google and emmctl's own Android modules agree on the wire: the real AmapiClient and
// GoogleTokenSource (jose) against the fake's token endpoint and API, a compiled policy applied by
// a simulated device and read back by posture.ts, the enrollment request and Google's answer,
// commands through their Operations, and a push the real verifier and parser accept. Both sides
// are checked against the discovery document independently (client.ts by its readers, the fake by
// amapi-schema.ts), so a disagreement fails here rather than in the end-to-end story.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GoogleTokenSource, pushVerifier, readServiceAccountKey } from '../../src/channels/android/auth.js';
import { AmapiClient, AmapiCallError } from '../../src/channels/android/client.js';
import { commandOutcome, commandRequest } from '../../src/channels/android/commands.js';
import { compilePolicy, policyIdFor, policyName } from '../../src/channels/android/compile.js';
import { enrollmentTokenRequest, readCreatedToken, readEnrollmentData } from '../../src/channels/android/enrollment.js';
import { readPush } from '../../src/channels/android/notifications.js';
import { readDevice } from '../../src/channels/android/posture.js';
import { effectiveConfiguration } from '../../src/compliance/merge.js';
import type { PolicySettings } from '../../src/model/policy.generated.js';
import { policy } from '../compliance/fixtures.js';
import { startFakeAmapi, type FakeAmapi } from './fake-amapi.js';

let fake: FakeAmapi;
let client: AmapiClient;

beforeEach(async () => {
  fake = await startFakeAmapi({ seed: 3 });
  const key = readServiceAccountKey(readFileSync(fake.credentialsFile, 'utf8'), fake.credentialsFile);
  // No real waiting in back-off: the fake's Retry-After is honoured in what the client asks for, not in wall time.
  client = new AmapiClient({ endpoint: fake.url, tokens: new GoogleTokenSource(key), sleep: async () => {}, random: () => 0.5 });
});
afterEach(async () => {
  expect(fake.schemaErrors).toEqual([]);
  await fake.close();
});

const SETTINGS: PolicySettings = {
  passcode: { required: true, minLength: 6, quality: 'numeric-complex' },
  encryption: 'required',
  apps: { required: ['com.microsoft.teams'], blocked: ['com.king.candycrushsaga'] },
};

async function publishCompiled(ownership: 'corporate' | 'personal'): Promise<{ name: string; sources: Record<string, string> }> {
  const configuration = effectiveConfiguration([policy('baseline', SETTINGS)]);
  const mode = ownership === 'corporate' ? { ownership, managementMode: 'fully-managed' as const } : { ownership, managementMode: 'work-profile' as const };
  const compiled = compilePolicy({ configuration, mode });
  const name = policyName(fake.enterprise, policyIdFor(configuration.version, mode));
  expect(await client.patchPolicy(name, compiled.policy)).toEqual({ name, version: '1' });
  return { name, sources: configuration.sources };
}

async function enrollmentToken(policyName: string, ownership: 'corporate' | 'personal', maxUses?: number): Promise<{ name: string; value: string }> {
  const plan = enrollmentTokenRequest({ tokenId: 'tok_abc', profile: 'corp', ownership, policyName, ttlSeconds: 3600, ...(maxUses ? { maxUses } : {}) });
  return readCreatedToken(await client.createEnrollmentToken(fake.enterprise, plan.body));
}

describe('AmapiClient against the fake', () => {
  it('enrolls a device with a token planned by enrollment.ts; the device applies the compiled policy and posture.ts reads its report', async () => {
    const p = await publishCompiled('corporate');
    const t = await enrollmentToken(p.name, 'corporate', 1);
    const name = await fake.devices.enroll(t.value, { compliant: false });
    fake.devices.set(name, { apps: ['com.king.candycrushsaga'] });
    fake.devices.report(name);
    const { devices } = await client.listDevices(fake.enterprise);
    expect(devices).toHaveLength(1);
    const report = readDevice(devices[0], { sources: p.sources });
    expect(report).toMatchObject({
      name, mode: { ownership: 'corporate', managementMode: 'fully-managed' }, state: 'ACTIVE', enrollmentTokenName: t.name,
      appliedPolicy: { name: p.name, version: '1' },
      posture: { osVersion: '14', encrypted: false, passcodeSet: false, compromised: false, installedApps: ['com.google.android.apps.work.clouddpc', 'com.microsoft.teams'] },
      missing: [],
    });
    expect(readEnrollmentData(report.enrollmentTokenData)).toEqual({ token: 'tok_abc', profile: 'corp' });
    expect(report.failures.map((f) => [f.policy, f.expected, f.actual])).toEqual([
      ['baseline', 'passcode applied (AMAPI passwordPolicies)', expect.stringContaining('USER_ACTION')],
      ['baseline', 'encryption applied (AMAPI encryptionPolicy)', expect.stringContaining('USER_ACTION')],
    ]);
    expect(await client.deletePolicy(p.name)).toBe('in-use');
  });

  it('pages devices.list to the end with the client\'s page tokens', async () => {
    const p = await publishCompiled('personal');
    const t = await enrollmentToken(p.name, 'personal');
    const names = await fake.devices.enrollMany(t.value, 25);
    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await client.listDevices(fake.enterprise, pageToken, 10);
      for (const d of page.devices) {
        const r = readDevice(d);
        expect(r.mode?.managementMode).toBe('work-profile');
        seen.push(r.name);
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen.sort()).toEqual([...names].sort());
  });

  it('locks through issueCommand; commandOutcome reads the Operation as sent, then acknowledged after the device\'s report', async () => {
    const p = await publishCompiled('corporate');
    const device = await fake.devices.enroll((await enrollmentToken(p.name, 'corporate')).value);
    const plan = commandRequest({ type: 'lock', device, mode: { ownership: 'corporate', managementMode: 'fully-managed' }, now: new Date(), expiresAt: new Date(Date.now() + 600_000).toISOString() });
    if (!plan.ok || plan.request.method !== 'issueCommand') throw new Error('lock is an issueCommand');
    const op = await client.issueCommand(device, plan.request.body);
    expect(commandOutcome(op, { now: new Date() })).toEqual({ status: 'sent', operation: op.name });
    fake.devices.report(device);
    expect(commandOutcome(await client.getOperation(op.name), { now: new Date() })).toEqual({ status: 'acknowledged', operation: op.name });
    expect((await client.listOperations(device)).operations.map((o) => o.name)).toEqual([op.name]);
    expect(fake.devices.executed(device).map((e) => e.type)).toEqual(['LOCK']);
  });

  it('a lost issueCommand answer is an unknown outcome, never resent by the client; the Operation is found by listOperations', async () => {
    const p = await publishCompiled('corporate');
    const device = await fake.devices.enroll((await enrollmentToken(p.name, 'corporate')).value);
    fake.faults.loseNextResponse('issueCommand');
    const err = await client.issueCommand(device, { type: 'LOCK' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmapiCallError);
    expect((err as AmapiCallError).outcome).toBe('unknown');
    expect(fake.requests.filter((r) => r.call === 'enterprises.devices.issueCommand')).toHaveLength(1);
    expect((await client.listOperations(device)).operations.map((o) => o.metadata?.type)).toEqual(['LOCK']);
  });

  it('rides out a 429 storm on reads, and wipes exactly once through a lost devices.delete answer', async () => {
    const p = await publishCompiled('corporate');
    const device = await fake.devices.enroll((await enrollmentToken(p.name, 'corporate')).value);
    fake.faults.quotaStorm(3);
    expect((await client.listDevices(fake.enterprise)).devices).toHaveLength(1);
    expect(fake.requests.filter((r) => r.call === 'enterprises.devices.list').map((r) => r.status)).toEqual([429, 429, 429, 200]);
    fake.faults.loseNextResponse('delete');
    const outcome = await client.deleteDevice(device).catch((e: unknown) => e);
    // Whether the client retried on its own (delete is idempotent: the retry answers 404) or said unknown, one wipe happened.
    if (outcome instanceof AmapiCallError) expect(outcome.outcome).toBe('unknown');
    else expect(['deleted', 'not-found']).toContain(outcome);
    expect(await client.getDevice(device)).toBeUndefined();
    expect(fake.devices.executed(device).map((e) => e.type)).toEqual(['WIPE']);
  });

  it('moves a device with setDevicePolicy, and refuses nothing it should accept: the schema records stay empty', async () => {
    const a = await publishCompiled('corporate');
    const device = await fake.devices.enroll((await enrollmentToken(a.name, 'corporate')).value);
    const other = policyName(fake.enterprise, 'emmctl-r1-fm-00000000000000aa');
    await client.patchPolicy(other, compilePolicy({ configuration: effectiveConfiguration([policy('other', {} as PolicySettings)]), mode: { ownership: 'corporate', managementMode: 'fully-managed' } }).policy);
    expect(await client.setDevicePolicy(device, other)).toMatchObject({ policyName: other, appliedPolicyName: a.name });
    fake.devices.report(device);
    expect(readDevice(await client.getDevice(device)).appliedPolicy).toEqual({ name: other, version: '1' });
    expect(await client.deletePolicy(a.name)).toBe('deleted');
    expect(await client.deletePolicy(a.name)).toBe('not-found');
  });
});

describe('Pub/Sub push against the real verifier and parser', () => {
  let receiver: Server;
  let outcomes: Array<{ ok: boolean; type?: string; payload?: unknown; error?: string }>;
  beforeEach(async () => {
    outcomes = [];
    const audience = 'https://emmctl.example.com/v1/android/pubsub';
    const verifier = pushVerifier({ audience, email: fake.push.email, certsUrl: fake.certsUrl });
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        verifier.verify(req.headers.authorization).then(
          () => {
            const n = readPush(JSON.parse(Buffer.concat(chunks).toString('utf8')), fake.push.subscription);
            outcomes.push({ ok: true, type: n.type, payload: n.payload });
            res.writeHead(204).end();
          },
          (e: Error) => {
            outcomes.push({ ok: false, error: e.message });
            res.writeHead(401).end();
          },
        );
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    fake.push.to(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/android/pubsub`, audience);
  });
  afterEach(async () => {
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('ENROLLMENT and STATUS_REPORT carry a Device posture.ts reads, COMMAND an Operation commandOutcome reads', async () => {
    const p = await publishCompiled('corporate');
    const device = await fake.devices.enroll((await enrollmentToken(p.name, 'corporate')).value);
    const op = await client.issueCommand(device, { type: 'LOCK' });
    fake.devices.report(device);
    await fake.push.flush();
    expect(outcomes.map((o) => [o.ok, o.type])).toEqual([[true, 'ENROLLMENT'], [true, 'COMMAND'], [true, 'STATUS_REPORT']]);
    expect(readDevice(outcomes[0]!.payload).name).toBe(device);
    expect(commandOutcome(outcomes[1]!.payload, { now: new Date() })).toEqual({ status: 'acknowledged', operation: op.name });
    expect(readDevice(outcomes[2]!.payload).posture).toMatchObject({ osVersion: '14', encrypted: true });
  });
});
