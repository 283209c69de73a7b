// Saved plans are sealed and bound to their backend (issue 7, item 6): `apply --plan` refuses an
// edited plan, a plan for another store, and a plan whose secrets changed (exit 6), re-validates
// the documents (exit 3), and prints the diff of exactly the documents it applies.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planDigest, type SavedPlan } from '../../src/plan/index.js';
import { FleetService } from '../../src/service/fleet-service.js';
import { runCli } from '../helpers/cli.js';
import { policies, sandbox, SECRET, type Sandbox } from '../plan/fixtures.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = sandbox();
  const r = await sb.cli(['apply', '--yes']);
  expect(r.code, r.stderr).toBe(0);
  sb.write('policies/policies.yaml', policies(8));
});
afterEach(() => sb.cleanup());

const readPlan = (name: string) => JSON.parse(readFileSync(join(sb.root, name), 'utf8')) as SavedPlan;
const writePlan = (name: string, plan: unknown) => writeFileSync(join(sb.root, name), JSON.stringify(plan));
/** What someone who edits a plan and recomputes its sha256 would produce. */
const rehash = (plan: SavedPlan): SavedPlan => ({ ...plan, digest: planDigest(plan) });
/** A plan edited by someone holding the store itself (its seal key): to reach the checks behind the seal. */
async function resealWithStore(plan: SavedPlan): Promise<SavedPlan> {
  const hashed = rehash(plan);
  const store = await FleetService.open(sb.env.EMMCTL_DATA_DIR!);
  try {
    return { ...hashed, seal: await store.sealPlan(hashed.digest) };
  } finally {
    await store.close();
  }
}
const editPolicy = (plan: SavedPlan, edit: (spec: Record<string, any>) => void): SavedPlan => {
  const copy = structuredClone(plan);
  const change = copy.changes.find((c) => c.kind === 'Policy' && 'document' in c)!;
  edit((change as { document: { spec: Record<string, any> } }).document.spec);
  return copy;
};

async function minLengthInStore(): Promise<number> {
  const r = await sb.cli(['export']);
  return Number(/minLength: (\d+)/.exec(r.stdout)![1]);
}

describe('apply --plan', () => {
  it('a plan file holds references and digests, never a secret value', async () => {
    expect((await sb.cli(['plan', '--out', 'p.plan'])).code).toBe(0);
    const text = readFileSync(join(sb.root, 'p.plan'), 'utf8');
    expect(text).not.toContain(SECRET);
    const plan = JSON.parse(text) as SavedPlan;
    expect(plan.backend).toEqual({ kind: 'embedded', location: sb.env.EMMCTL_DATA_DIR, storeId: expect.stringMatching(/^st_/) });
    expect(plan.secrets).toEqual([{ kind: 'Policy', name: 'android-baseline', path: 'spec.settings.wifi[0].password', ref: '${env:CORP_WIFI_PSK}', digest: expect.stringMatching(/^scrypt1\$/) }]);
    expect(plan.digest).toBe(planDigest(plan));
    expect(plan.seal).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
  });

  it('refuses an edited plan whose sha256 was recomputed: only the store can seal (exit 6)', async () => {
    expect((await sb.cli(['plan', '--out', 'p.plan'])).code).toBe(0);
    writePlan('p.plan', rehash(editPolicy(readPlan('p.plan'), (spec) => {
      spec.settings.passcode.minLength = 4;
    })));
    const r = await sb.cli(['apply', '--plan', 'p.plan', '--yes']);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain("p.plan does not carry this store's seal");
    expect(await minLengthInStore()).toBe(6);
  });

  it('refuses an edited plan (exit 6) and applies nothing', async () => {
    expect((await sb.cli(['plan', '--out', 'p.plan'])).code).toBe(0);
    writePlan('p.plan', editPolicy(readPlan('p.plan'), (spec) => {
      spec.settings.passcode.minLength = 4;
      spec.settings.camera = 'enabled';
    }));
    const r = await sb.cli(['apply', '--plan', 'p.plan', '--yes']);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain('p.plan was changed after it was made');
    expect(r.stderr).toContain('nothing was applied');
    expect(await minLengthInStore()).toBe(6);
  });

  it.each([
    ['at the top level', (t: string) => t.replace(/^\{/, '{"__proto__":{"prune":true},')],
    ['inside a document\'s settings', (t: string) => t.replace(/"settings":\s*\{/, '"settings":{"__proto__":{"camera":"disabled","passcode":{"minLength":4}},')],
  ])('refuses a plan with a __proto__ key added %s (exit 6) and applies nothing', async (_where, edit) => {
    expect((await sb.cli(['plan', '--out', 'p.plan'])).code).toBe(0);
    const path = join(sb.root, 'p.plan');
    const text = readFileSync(path, 'utf8');
    const edited = edit(text);
    expect(edited).not.toBe(text);
    writeFileSync(path, edited);
    const r = await sb.cli(['apply', '--plan', 'p.plan', '--yes']);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain('p.plan was changed after it was made');
    expect(await minLengthInStore()).toBe(6);
  });

  it('re-validates the documents even of a plan re-sealed with the store key (exit 3) and stores nothing', async () => {
    expect((await sb.cli(['plan', '--out', 'p.plan'])).code).toBe(0);
    writePlan('p.plan', await resealWithStore(editPolicy(readPlan('p.plan'), (spec) => {
      spec.settings.passcode.minLength = 'six';
      spec.mtch = {};
    })));
    const r = await sb.cli(['apply', '--plan', 'p.plan', '--yes']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('p.plan (Policy/android-baseline)');
    expect(r.stderr).toContain('spec.settings.passcode.minLength');
    expect(r.stderr).toMatch(/unknown field "mtch"/);
    expect(await minLengthInStore()).toBe(6);
  });

  it('prints the diff of exactly the documents it applies', async () => {
    expect((await sb.cli(['plan', '--out', 'p.plan'])).code).toBe(0);
    const plan = readPlan('p.plan');
    expect(JSON.stringify(plan.changes)).toContain('"before":6,"after":8');
    // The recorded fields still say 6 → 8; the document now says 4.
    writePlan('p.plan', await resealWithStore(editPolicy(plan, (spec) => {
      spec.settings.passcode.minLength = 4;
    })));
    const r = await sb.cli(['apply', '--plan', 'p.plan', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('~ spec.settings.passcode.minLength: 6 → 4');
    expect(r.stdout).not.toContain('6 → 8');
    expect(await minLengthInStore()).toBe(4);
  });

  it('refuses a plan made for another store, even under the same relative --data-dir (exit 6)', async () => {
    for (const d of ['a', 'b']) mkdirSync(join(sb.root, d));
    const env = { EMMCTL_DATA_DIR: undefined };
    // Two real (empty) stores: apply --plan never creates one.
    for (const d of ['a', 'b']) {
      expect((await runCli(['--data-dir', 'store', 'server', 'token', 'create', '--role', 'admin'], { cwd: join(sb.root, d), env: { ...sb.env, ...env } })).code).toBe(0);
    }
    const inA = await runCli(['--data-dir', 'store', 'plan', join(sb.root, 'policies'), '--out', 'p.plan'], { cwd: join(sb.root, 'a'), env: { ...sb.env, ...env } });
    expect(inA.code, inA.stderr).toBe(0);
    const fromB = await runCli(['--data-dir', 'store', 'apply', '--plan', join(sb.root, 'a', 'p.plan'), '--yes'], { cwd: join(sb.root, 'b'), env: { ...sb.env, ...env } });
    expect(fromB.code, fromB.stderr).toBe(6);
    expect(fromB.stderr).toContain(`was made for embedded ${join(sb.root, 'a', 'store')} (store st_`);
    expect(fromB.stderr).toContain(`not for embedded ${join(sb.root, 'b', 'store')}`);
    const check = await runCli(['--data-dir', 'store', 'plan', join(sb.root, 'policies'), '--detailed-exitcode'], { cwd: join(sb.root, 'b'), env: { ...sb.env, ...env } });
    expect(check.stdout).toContain('Plan: 5 to create');
  });

  it('refuses a plan whose secret now has another value (exit 6), naming the reference, never the values', async () => {
    expect((await sb.cli(['plan', '--out', 'p.plan'], { env: { CORP_WIFI_PSK: 'second-psk-value' } })).code).toBe(0);
    expect(readFileSync(join(sb.root, 'p.plan'), 'utf8')).not.toContain('second-psk-value');
    const r = await sb.cli(['apply', '--plan', 'p.plan', '--yes'], { env: { CORP_WIFI_PSK: 'third-psk-value' } });
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain('${env:CORP_WIFI_PSK} (Policy/android-baseline spec.settings.wifi[0].password)');
    expect(r.stdout + r.stderr).not.toMatch(/second-psk-value|third-psk-value/);
    expect(await minLengthInStore()).toBe(6);
    const ok = await sb.cli(['apply', '--plan', 'p.plan', '--yes'], { env: { CORP_WIFI_PSK: 'second-psk-value' } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(await minLengthInStore()).toBe(8);
  });

  it('refuses a plan file of the previous format (exit 6)', async () => {
    expect((await sb.cli(['plan', '--out', 'p.plan'])).code).toBe(0);
    const { digest: _d, secrets: _s, seal: _seal, ...old } = readPlan('p.plan');
    writePlan('p.plan', { ...old, format: 'emmctl.plan/v1' });
    const r = await sb.cli(['apply', '--plan', 'p.plan', '--yes']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('format emmctl.plan/v1');
  });
});
