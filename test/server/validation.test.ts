// The server is a trust boundary: every document it stores passes the same checks as
// `emmctl validate`, every body fits its declared shape, hostile bodies and query strings are
// 400s, stored data that fails today's checks never breaks a check-in, and a change whose
// effect can queue a command needs that command's role.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { call, checkIn, createToken, enroll, enrollmentToken, killAll, POSTURE, PROFILE, seedResources, startServerProcess, type ServerProcess } from './helpers.js';

const dir = tempDir('emmctl-server-validation-');
let server: ServerProcess;
let base: string;
let admin: string;
let operator: string;

beforeAll(async () => {
  admin = await createToken(dir.path, 'admin');
  operator = await createToken(dir.path, 'operator', 'op');
  server = await startServerProcess(dir.path);
  base = server.url;
  await seedResources(base, admin);
});

afterAll(async () => {
  if (server) await server.stop();
  killAll();
  dir.cleanup();
});

const doc = (kind: string, name: string, spec: unknown) => ({ apiVersion: 'emmctl/v1', kind, metadata: { name }, spec });
const create = (d: { kind: string; metadata: { name: string } }) => ({ op: 'create', kind: d.kind, name: d.metadata.name, document: d });
const apply = (token: string, ...docs: Array<{ kind: string; metadata: { name: string } }>) =>
  call(base, 'POST', '/v1/resources/apply', { token, body: { changes: docs.map(create) } });
const names = async () => ((await call(base, 'GET', '/v1/resources', { token: admin })).body.items as Array<{ kind: string; name: string }>).map((r) => `${r.kind}/${r.name}`);

/** The five documents the issue found stored: each fails the schema in its own way. */
const BAD = {
  'spec.mtch': doc('Group', 'typo-group', { mtch: { platforms: ['android'] } }),
  'minLength: "six"': doc('Policy', 'six-policy', { assign: ['all'], settings: { passcode: { required: true, minLength: 'six' } } }),
  'encryption: maybe': doc('CompliancePolicy', 'maybe-compliance', { assign: ['all'], rules: { encryption: 'maybe' } }),
  'after: "soon"': doc('CompliancePolicy', 'soon-compliance', { assign: ['all'], rules: { encryption: 'required' }, actions: [{ after: 'soon', do: 'lock' }] }),
  'do: explode': doc('CompliancePolicy', 'explode-compliance', { assign: ['all'], rules: { encryption: 'required' }, actions: [{ after: '1d', do: 'explode' }] }),
};

describe('documents sent to /v1/resources/apply', () => {
  for (const [label, bad] of Object.entries(BAD)) {
    it(`refuses ${label} with the problem record emmctl validate gives, and stores nothing`, async () => {
      // Sent raw, as any HTTP client could: no CLI validation in front of the server.
      const raw = JSON.stringify({ changes: [create(bad)] });
      const r = await call(base, 'POST', '/v1/resources/apply', { token: admin, raw });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('invalid');
      expect(r.body.error.message).toContain(`${bad.kind}/${bad.metadata.name}`);
      expect(r.body.error.message).toContain('nothing was applied');
      const problems = r.body.error.problems as Array<{ document: string; change: number; path: string; rule: string; message: string }>;
      expect(problems.length).toBeGreaterThan(0);
      expect(problems[0]).toMatchObject({ document: `${bad.kind}/${bad.metadata.name}`, change: 0 });

      // The same records (path, rule, message) as `emmctl validate -o json` on the same document.
      const file = join(dir.path, `${bad.metadata.name}.yaml`);
      writeFileSync(file, JSON.stringify(bad));
      const v = await runCli(['validate', '-o', 'json', file]);
      expect(v.code).toBe(3);
      const expected = (JSON.parse(v.stdout).problems as Array<{ path: string; rule: string; message: string }>).map(({ path, rule, message }) => ({ path, rule, message }));
      expect(problems.map(({ path, rule, message }) => ({ path, rule, message }))).toEqual(expected);

      expect(await names()).not.toContain(`${bad.kind}/${bad.metadata.name}`);
    });
  }

  it('checks the documents as a set with the stored ones: an unknown group is a 422 naming it', async () => {
    const r = await apply(admin, doc('CompliancePolicy', 'orphan', { assign: ['no-such-group'], rules: { encryption: 'required' } }));
    expect(r.status).toBe(422);
    expect(r.body.error.problems).toEqual([expect.objectContaining({ document: 'CompliancePolicy/orphan', path: 'spec.assign[0]', rule: 'unknown-group' })]);
    // The stored group is part of the set: assigning it is fine.
    const ok = await apply(admin, doc('CompliancePolicy', 'assigned', { assign: ['all-android'], rules: { encryption: 'required' } }));
    expect(ok.status).toBe(200);
  });

  it('refuses the whole change set when one document is bad', async () => {
    const good = doc('Group', 'good-group', { match: { platforms: ['ios'] } });
    const r = await apply(admin, good, BAD['do: explode']);
    expect(r.status).toBe(422);
    expect(r.body.error.problems[0]).toMatchObject({ change: 1 });
    expect(await names()).not.toContain('Group/good-group');
  });
});

describe('request bodies', () => {
  const cases: Array<[string, string, unknown, RegExp]> = [
    ['POST', '/v1/tokens', { name: 'x', role: 'viewer', expires: '1d' }, /unknown field "expires" in body \(did you mean "expiresInSeconds"\?\)/],
    ['POST', '/v1/enrollment-tokens', { profile: PROFILE.metadata.name, ttl: 60 }, /unknown field "ttl" in body/],
    ['POST', '/v1/resources/apply', { changes: [], dryRun: true }, /unknown field "dryRun" in body/],
    ['POST', '/v1/resources/apply', { changes: [{ op: 'delete', kind: 'Group', name: 'g', expectedVersion: 1, force: true }] }, /unknown field "force" in body\.changes\[0\]/],
    ['POST', '/v1/devices/preregister', { devices: [{ serial: 'S1', platform: 'android', colour: 'red' }] }, /unknown field "colour" in body\.devices\[0\]/],
    ['POST', '/v1/tokens/x/revoke', { now: true }, /unknown field "now" in body; it takes no fields/],
    ['POST', '/v1/enrollment-tokens/x/revoke', { reason: 'x' }, /unknown field "reason" in body/],
    ['POST', '/v1/commands/x/cancel', { force: true }, /unknown field "force" in body/],
  ];
  for (const [method, path, body, message] of cases) {
    it(`${method} ${path} refuses ${JSON.stringify(body).slice(0, 60)} with 400`, async () => {
      const r = await call(base, method, path, { token: admin, body });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(message);
    });
  }

  it('POST /v1/commands refuses an unknown field before queueing anything', async () => {
    const r = await call(base, 'POST', '/v1/commands', { token: admin, body: { deviceIds: ['d1'], type: 'lock', urgent: true }, headers: { 'idempotency-key': 'k-unknown' } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/unknown field "urgent"/);
  });

  it('agent routes refuse unknown fields too, at every level', async () => {
    const et = await enrollmentToken(base, admin);
    const enrollBad = await call(base, 'POST', '/v1/agent/enroll', { body: { token: et.secret, platform: 'android', serial: 'S-unknown', osVersion: '14', imei: '1' } });
    expect(enrollBad.status).toBe(400);
    expect(enrollBad.body.error.message).toMatch(/unknown field "imei" in body/);
    const dev = await enroll(base, et.secret);
    const posture = await checkIn(base, dev.credential, { ...POSTURE, jailbreak: false });
    expect(posture.status).toBe(400);
    expect(posture.body.error.message).toMatch(/unknown field "jailbreak" in body\.posture/);
    const top = await call(base, 'POST', '/v1/agent/checkin', { device: dev.credential, body: { posture: POSTURE, battery: 80 } });
    expect(top.status).toBe(400);
    const result = await call(base, 'POST', '/v1/agent/commands/x/result', { device: dev.credential, body: { status: 'failed', code: 3 } });
    expect(result.status).toBe(400);
    expect(result.body.error.message).toMatch(/unknown field "code"/);
  });

  it('enforces the limits the OpenAPI document declares', async () => {
    const long = await call(base, 'POST', '/v1/tokens', { token: admin, body: { name: 'n'.repeat(129), role: 'viewer' } });
    expect(long.status).toBe(400);
    expect(long.body.error.message).toMatch(/^body\.name is too long: 129 characters, at most 128$/);
    const ttl = await call(base, 'POST', '/v1/enrollment-tokens', { token: admin, body: { profile: PROFILE.metadata.name, expiresInSeconds: 0 } });
    expect(ttl.status).toBe(400);
    const kind = await call(base, 'POST', '/v1/resources/apply', { token: admin, body: { changes: [{ op: 'create', kind: 'Group', name: 'x'.repeat(64), document: {} }] } });
    expect(kind.status).toBe(400);
    expect(kind.body.error.message).toMatch(/^body\.changes\[0\]\.name is too long: 64 characters, at most 63$/);
  });
});

describe('hostile input is a 400, never a 500', () => {
  const deep = (n: number, inner: string) => '['.repeat(n) + inner + ']'.repeat(n);

  it('refuses a body nested 5,000 deep on every kind of route', async () => {
    const apply = await call(base, 'POST', '/v1/resources/apply', { token: admin, raw: `{"changes":${deep(5000, '')}}` });
    expect(apply.status).toBe(400);
    expect(apply.body.error.message).toMatch(/nested more than 64 levels/);
    const inDocument = `{"changes":[{"op":"create","kind":"Group","name":"g","document":{"kind":"Group","metadata":{"name":"g"},"spec":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}]}`;
    expect((await call(base, 'POST', '/v1/resources/apply', { token: admin, raw: inDocument })).status).toBe(400);
    expect((await call(base, 'POST', '/v1/agent/enroll', { raw: `{"token":${deep(5000, '1')}}` })).status).toBe(400);
    expect((await call(base, 'POST', '/v1/tokens', { token: admin, raw: `{"name":${deep(5000, '1')}}` })).status).toBe(400);
    // The bound itself: the body, x and 62 arrays inside it are 64 levels; one more is too many.
    const nested = (arrays: number) => call(base, 'POST', '/v1/tokens', { token: admin, raw: `{"name":"n","x":{"y":${'['.repeat(arrays)}1${']'.repeat(arrays)}}}` });
    const at = await nested(62);
    expect(at.status).toBe(400);
    expect(at.body.error.message).not.toMatch(/nested more than/);
    expect((await nested(63)).body.error.message).toMatch(/nested more than 64 levels/);
  });

  it('refuses a body that is not UTF-8, declares another charset, is content-encoded, or holds a lone surrogate; nothing stored', async () => {
    const before = await names();
    const send = (body: Buffer | string, headers: Record<string, string> = {}) =>
      fetch(`${base}/v1/resources/apply`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...headers }, body });
    const group = (name: string) => JSON.stringify({ changes: [create(doc('Group', name, { match: { platforms: ['android'] } }))] });
    // Bytes ff fe inside a string used to be stored as U+FFFD.
    const utf8 = Buffer.from(group('bad-bytes-XX'));
    const at = utf8.indexOf('XX');
    utf8[at] = 0xff;
    utf8[at + 1] = 0xfe;
    const bytes = await send(utf8);
    expect(bytes.status).toBe(400);
    expect(((await bytes.json()) as { error: { message: string } }).error.message).toContain('not valid UTF-8');
    expect((await send(group('latin1-group'), { 'content-type': 'application/json; charset=iso-8859-1' })).status).toBe(415);
    expect((await send(group('gzip-group'), { 'content-encoding': 'gzip' })).status).toBe(415);
    const lone = await call(base, 'POST', '/v1/resources/apply', { token: admin, raw: group('lone-\\ud800-x').replace('\\\\ud800', '\\ud800') });
    expect(lone.status).toBe(400);
    expect(lone.body.error.message).toContain('lone surrogate');
    const loneKey = await call(base, 'POST', '/v1/tokens', { token: admin, raw: '{"name":"t","\\udc00":1}' });
    expect(loneKey.status).toBe(400);
    expect(loneKey.body.error.message).toContain('lone surrogate');
    const pair = await call(base, 'POST', '/v1/tokens', { token: admin, raw: '{"name":"t\\ud83d\\ude00","role":"nobody"}' });
    expect(JSON.stringify(pair.body)).not.toContain('lone surrogate');
    expect(await names()).toEqual(before);
  });

  it('refuses a posture patchLevel that is no calendar date (400 naming the field)', async () => {
    const dev = await enroll(base, (await enrollmentToken(base, admin)).secret);
    for (const patchLevel of ['2024-02-30', '2024-13-45', '2023-02-29']) {
      const r = await checkIn(base, dev.credential, { ...POSTURE, patchLevel });
      expect(r.status, patchLevel).toBe(400);
      expect(r.body.error.message).toContain('patchLevel');
    }
    expect((await checkIn(base, dev.credential, { ...POSTURE, patchLevel: '2024-02-29' })).status).toBe(200);
  });

  it('treats prototype keys in query strings as the unknown values they are', async () => {
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      for (const path of ['/v1/devices', '/v1/compliance']) {
        const r = await call(base, 'GET', `${path}?sort=${key}`, { token: admin });
        expect(r.status, `${path}?sort=${key}`).toBe(400);
        const desc = await call(base, 'GET', `${path}?sort=-${key}`, { token: admin });
        expect(desc.status, `${path}?sort=-${key}`).toBe(400);
      }
      expect((await call(base, 'GET', `/v1/resources?kind=${key}`, { token: admin })).status).toBe(400);
      expect((await call(base, 'GET', `/v1/commands?status=${key}`, { token: admin })).status).toBe(400);
      expect((await call(base, 'GET', `/v1/devices?filter=${key}%3Dx`, { token: admin })).status).toBe(400);
      expect((await call(base, 'GET', `/v1/devices?filter=label.${key}%3Dx`, { token: admin })).status).toBe(200);
    }
  });

  it('treats prototype keys in bodies as unknown fields or bad values', async () => {
    const proto = await call(base, 'POST', '/v1/tokens', { token: admin, raw: '{"name":"p","role":"viewer","__proto__":{"expiresInSeconds":5}}' });
    expect(proto.status).toBe(400);
    expect(proto.body.error.message).toMatch(/unknown field "__proto__"/);
    const ctor = await call(base, 'POST', '/v1/tokens', { token: admin, body: { name: 'p', role: 'constructor' } });
    expect(ctor.status).toBe(400);
    const change = await call(base, 'POST', '/v1/resources/apply', { token: admin, body: { changes: [{ op: 'constructor', kind: 'toString', name: 'x' }] } });
    expect(change.status).toBe(400);
    const docProto = await apply(admin, { ...doc('Group', 'proto-group', { match: { platforms: ['ios'] } }), constructor: { x: 1 } } as never);
    expect(docProto.status).toBe(422);
    const cmd = await call(base, 'POST', '/v1/commands', { token: admin, body: { deviceIds: ['d'], type: 'constructor' }, headers: { 'idempotency-key': 'k-proto' } });
    expect(cmd.status).toBe(400);
  });
});

describe('a command-queueing step needs the command\'s role (applied by an operator)', () => {
  const retirePolicy = doc('CompliancePolicy', 'fleet-retire', { assign: ['all'], rules: { encryption: 'required' }, actions: [{ after: '0d', do: 'retire' }] });

  it('refuses {after: 0d, do: retire} from an operator with 403 naming the document and step; nothing stored, no retire queued', async () => {
    const et = await enrollmentToken(base, admin);
    const dev = await enroll(base, et.secret);
    const r = await apply(operator, retirePolicy);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden');
    expect(r.body.error.message).toContain('CompliancePolicy/fleet-retire');
    expect(r.body.error.message).toContain('spec.actions[0] {after: 0d, do: retire} queues retire commands, which need the admin role');
    expect(r.body.error.message).toContain('token "op" is operator');
    expect(r.body.error.document).toBe('CompliancePolicy/fleet-retire');
    expect(await names()).not.toContain('CompliancePolicy/fleet-retire');
    // An unencrypted check-in would fire the step at once if it had been stored.
    expect((await checkIn(base, dev.credential, { ...POSTURE, encrypted: false })).status).toBe(200);
    const queued = await call(base, 'GET', `/v1/commands?deviceId=${dev.deviceId}&type=retire`, { token: admin });
    expect(queued.body.items).toEqual([]);
  });

  it('lets an operator apply a lock step (a lock needs the operator role) and an admin the retire step', async () => {
    const lock = await apply(operator, doc('CompliancePolicy', 'fleet-lock', { assign: ['all-android'], rules: { passcode: 'required' }, actions: [{ after: '3d', do: 'lock' }] }));
    expect(lock.status).toBe(200);
    const et = await enrollmentToken(base, admin);
    const dev = await enroll(base, et.secret);
    expect((await apply(admin, retirePolicy)).status).toBe(200);
    expect((await checkIn(base, dev.credential, { ...POSTURE, encrypted: false })).status).toBe(200);
    const queued = await call(base, 'GET', `/v1/commands?deviceId=${dev.deviceId}&type=retire`, { token: admin });
    expect(queued.body.items).toHaveLength(1);
  });

  it('refuses an operator\'s change to a group that a retire step reaches, and an update of such a policy', async () => {
    const group = doc('Group', 'retire-scope', { match: { platforms: ['windows'] } });
    const scoped = doc('CompliancePolicy', 'scoped-retire', { assign: ['retire-scope'], rules: { encryption: 'required' }, actions: [{ after: '30d', do: 'retire' }] });
    expect((await apply(admin, group, scoped)).status).toBe(200);
    const current = (await call(base, 'GET', '/v1/resources?kind=Group', { token: admin })).body.items.find((r: { name: string }) => r.name === 'retire-scope');
    const widen = await call(base, 'POST', '/v1/resources/apply', {
      token: operator,
      body: { changes: [{ op: 'update', kind: 'Group', name: 'retire-scope', expectedVersion: current.version, document: doc('Group', 'retire-scope', { match: { ownership: 'corporate' } }) }] },
    });
    expect(widen.status).toBe(403);
    expect(widen.body.error.message).toMatch(/^Group\/retire-scope \(changes\[0\]\) needs the admin role: it chooses the devices of CompliancePolicy\/scoped-retire/);
    const stored = (await call(base, 'GET', '/v1/resources?kind=CompliancePolicy', { token: admin })).body.items.find((r: { name: string }) => r.name === 'scoped-retire');
    const edit = await call(base, 'POST', '/v1/resources/apply', {
      token: operator,
      body: { changes: [{ op: 'update', kind: 'CompliancePolicy', name: 'scoped-retire', expectedVersion: stored.version, document: { ...scoped, spec: { ...(scoped.spec as object), rules: { passcode: 'required' } } } }] },
    });
    expect(edit.status).toBe(403);
  });
});

describe('plan over HTTP tells an operator before apply', () => {
  it('marks a change that needs the admin role, and apply is then refused naming it', async () => {
    const files = tempDir('emmctl-plan-role-');
    try {
      writeFileSync(join(files.path, 'retire.yaml'), [
        'apiVersion: emmctl/v1',
        'kind: CompliancePolicy',
        'metadata: { name: plan-retire }',
        'spec:',
        '  assign: [all]',
        '  rules: { passcode: required }',
        '  actions:',
        '    - { after: 0d, do: markNoncompliant }',
        '    - { after: 30d, do: retire }',
        '',
      ].join('\n'));
      const env = (token: string) => ({ EMMCTL_SERVER: base, EMMCTL_TOKEN: token });
      const plan = await runCli(['plan', 'retire.yaml'], { cwd: files.path, env: env(operator) });
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(/\+ create CompliancePolicy\/plan-retire {2}\(needs the admin role\)/);
      expect(plan.stderr).toContain('warning: CompliancePolicy/plan-retire needs the admin role: its step spec.actions[1] {after: 30d, do: retire} queues retire commands');
      expect(plan.stderr).toContain('your token "op" is operator');
      const applied = await runCli(['apply', 'retire.yaml', '--yes'], { cwd: files.path, env: env(operator) });
      expect(applied.code).not.toBe(0);
      expect(applied.stdout).toMatch(/\+ create CompliancePolicy\/plan-retire {2}\(needs the admin role\)/);
      expect(applied.stderr).toContain('CompliancePolicy/plan-retire (changes[0]) needs the admin role');
      expect(await names()).not.toContain('CompliancePolicy/plan-retire');
      const asAdmin = await runCli(['plan', 'retire.yaml'], { cwd: files.path, env: env(admin) });
      expect(asAdmin.code, asAdmin.stderr).toBe(0);
      expect(asAdmin.stdout).not.toContain('needs the admin role');
      expect(asAdmin.stderr).not.toContain('warning');
    } finally {
      files.cleanup();
    }
  });
});

describe('stored documents that fail today\'s checks', () => {
  const old = tempDir('emmctl-server-stored-');
  let oldServer: ServerProcess | undefined;
  afterAll(async () => {
    if (oldServer) await oldServer.stop();
    old.cleanup();
  });

  it('are reported at start, and check-ins still succeed (compliance unknown with the reason), delivering queued locks', async () => {
    const adminOld = await createToken(old.path, 'admin');
    // Documents stored before the server validated: written through the store itself, as an older server did.
    const store = await FleetService.open(old.path);
    const actor = { name: 'old-server', source: 'test' };
    await store.applyChanges([
      { op: 'create', kind: 'Group', name: 'all-android', document: doc('Group', 'all-android', { match: { platforms: ['android'] } }) as never },
      { op: 'create', kind: 'EnrollmentProfile', name: PROFILE.metadata.name, document: PROFILE as never },
      ...Object.values(BAD).map((d) => ({ op: 'create' as const, kind: d.kind as never, name: d.metadata.name, document: d as never })),
    ], actor);
    await store.close();

    oldServer = await startServerProcess(old.path);
    const err = oldServer.stderr();
    for (const bad of Object.values(BAD)) expect(err).toContain(`stored ${bad.kind}/${bad.metadata.name} does not validate`);
    expect(err).toMatch(/5 stored documents no longer validate/);

    const et = await enrollmentToken(oldServer.url, adminOld);
    const dev = await enroll(oldServer.url, et.secret);
    const lock = await call(oldServer.url, 'POST', '/v1/commands', { token: adminOld, body: { deviceIds: [dev.deviceId], type: 'lock' }, headers: { 'idempotency-key': 'k-lock-old' } });
    expect(lock.status).toBe(200);
    for (const posture of [POSTURE, { ...POSTURE, encrypted: false }]) {
      const r = await checkIn(oldServer.url, dev.credential, posture);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.commands.map((c: { type: string }) => c.type)).toEqual(['lock']);
    }
    const shown = await call(oldServer.url, 'GET', `/v1/devices/${dev.deviceId}`, { token: adminOld });
    expect(shown.status).toBe(200);
    expect(shown.body.compliance.status).toBe('unknown');
    expect(shown.body.compliance.reason).toMatch(/CompliancePolicy "explode-compliance" cannot be evaluated: spec\.actions\[0\]\.do: invalid do "explode"/);
    expect(shown.body.compliance.reason).toMatch(/CompliancePolicy "maybe-compliance" cannot be evaluated/);
    const listed = await call(oldServer.url, 'GET', '/v1/compliance?filter=compliance%3Dunknown', { token: adminOld });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((d: { deviceId: string }) => d.deviceId)).toContain(dev.deviceId);
    // No step of a policy that cannot be evaluated fires.
    const cmds = await call(oldServer.url, 'GET', `/v1/commands?deviceId=${dev.deviceId}`, { token: adminOld });
    expect(cmds.body.items.map((c: { type: string }) => c.type)).toEqual(['lock']);
  });

  it('of any kind and any shape never fail a check-in, a device view, a listing or the next apply', async () => {
    const broken = tempDir('emmctl-server-broken-');
    const adminBroken = await createToken(broken.path, 'admin');
    const docs = [
      doc('Group', 'owners-text', { match: { owners: 'a@example.com' } }),
      doc('Group', 'devices-text', { devices: 'abc' }),
      doc('Policy', 'no-settings', { assign: ['all'] }),
      doc('Policy', 'assign-text', { assign: 'all', settings: {} }),
      doc('CompliancePolicy', 'no-rules', { assign: ['all'] }),
      doc('CompliancePolicy', 'no-assign', { rules: { encryption: 'required' } }),
      doc('CompliancePolicy', 'actions-text', { assign: 'all', rules: { encryption: 'required' }, actions: 'x' }),
      doc('EnrollmentProfile', 'group-number', { platforms: ['android'], group: 5 }),
    ];
    const store = await FleetService.open(broken.path);
    await store.applyChanges([
      { op: 'create', kind: 'EnrollmentProfile', name: PROFILE.metadata.name, document: PROFILE as never },
      ...docs.map((d) => ({ op: 'create' as const, kind: d.kind as never, name: d.metadata.name, document: d as never })),
    ], { name: 'old-server', source: 'test' });
    await store.close();
    const s = await startServerProcess(broken.path);
    try {
      const et = await enrollmentToken(s.url, adminBroken);
      const dev = await enroll(s.url, et.secret);
      for (const posture of [POSTURE, { ...POSTURE, encrypted: false }]) expect((await checkIn(s.url, dev.credential, posture)).status).toBe(200);
      const shown = await call(s.url, 'GET', `/v1/devices/${dev.deviceId}`, { token: adminBroken });
      expect(shown.status).toBe(200);
      expect(shown.body.compliance.status).toBe('unknown');
      for (const name of ['no-rules', 'no-assign', 'actions-text']) expect(shown.body.compliance.reason).toContain(`CompliancePolicy "${name}" cannot be evaluated`);
      expect((await call(s.url, 'GET', '/v1/compliance', { token: adminBroken })).status).toBe(200);
      expect((await call(s.url, 'GET', '/v1/devices?filter=group%3Downers-text', { token: adminBroken })).status).toBe(200);
      expect((await call(s.url, 'POST', '/v1/resources/apply', { token: adminBroken, body: { changes: [create(doc('Group', 'fresh', { match: { platforms: ['ios'] } }))] } })).status).toBe(200);
    } finally {
      await s.stop();
      broken.cleanup();
    }
  });
});

describe('a profile or pre-registered device whose labels a retire step could reach needs the admin role', () => {
  const own = tempDir('emmctl-server-validation-reach-');
  let srv: ServerProcess;
  let adm: string;
  let op: string;
  const post = (token: string, ...docs: Array<{ kind: string; metadata: { name: string } }>) =>
    call(srv.url, 'POST', '/v1/resources/apply', { token, body: { changes: docs.map(create) } });
  const profile = (name: string, spec: Record<string, unknown>) => doc('EnrollmentProfile', name, { platforms: ['android'], ownership: 'corporate', ...spec });

  beforeAll(async () => {
    adm = await createToken(own.path, 'admin');
    op = await createToken(own.path, 'operator', 'op');
    srv = await startServerProcess(own.path);
    const tier1 = doc('Group', 'tier1', { match: { labels: { tier: 't1' }, owners: ['example.com'] } });
    const retire = doc('CompliancePolicy', 't1-retire', { assign: ['tier1'], rules: { encryption: 'required' }, actions: [{ after: '0d', do: 'retire' }] });
    expect((await post(adm, tier1, retire)).status).toBe(200);
  });

  afterAll(async () => {
    await srv?.stop();
    own.cleanup();
  });

  it('refuses an operator\'s profile whose labels match the group (owners unknown counts as a match), create and update', async () => {
    const r = await post(op, profile('t1-phones', { labels: { tier: 't1' } }));
    expect(r.status).toBe(403);
    expect(r.body.error.message).toMatch(/^EnrollmentProfile\/t1-phones \(changes\[0\]\) needs the admin role: its devices can be in group tier1 of CompliancePolicy\/t1-retire, whose step spec\.actions\[0\] \{after: 0d, do: retire\}/);
    // A label that contradicts the match keeps the profile out of reach; moving it in is refused.
    expect((await post(op, profile('t2-phones', { labels: { tier: 't2' } }))).status).toBe(200);
    const stored = (await call(srv.url, 'GET', '/v1/resources?kind=EnrollmentProfile', { token: adm })).body.items.find((x: { name: string }) => x.name === 't2-phones');
    const update = await call(srv.url, 'POST', '/v1/resources/apply', {
      token: op,
      body: { changes: [{ op: 'update', kind: 'EnrollmentProfile', name: 't2-phones', expectedVersion: stored.version, document: profile('t2-phones', { labels: { tier: 't1' } }) }] },
    });
    expect(update.status).toBe(403);
    expect((await post(adm, profile('t1-phones', { labels: { tier: 't1' } }))).status).toBe(200);
  });

  it('refuses an operator\'s pre-registration row whose labels could put the device in the group, naming the row; nothing registered', async () => {
    const rows = [
      { serial: 'PRE-T2', platform: 'android', labels: { tier: 't2' } },
      { serial: 'PRE-T1', platform: 'android', labels: { tier: 't1' } },
    ];
    const r = await call(srv.url, 'POST', '/v1/devices/preregister', { token: op, body: { devices: rows } });
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain('body.devices[1] (serial "PRE-T1") needs the admin role');
    expect(r.body.error.message).toContain('CompliancePolicy/t1-retire');
    expect(r.body.error.message).toContain('do: retire');
    const listed = await call(srv.url, 'GET', '/v1/devices?filter=serial%3DPRE-T2', { token: adm });
    expect(JSON.stringify(listed.body)).not.toContain('PRE-T2');
    expect((await call(srv.url, 'POST', '/v1/devices/preregister', { token: op, body: { devices: [rows[0]] } })).status).toBe(200);
    expect((await call(srv.url, 'POST', '/v1/devices/preregister', { token: adm, body: { devices: [rows[1]] } })).status).toBe(200);
  });
});
