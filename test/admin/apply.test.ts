// apply end to end on the embedded store: confirmation rules, guards, saved plans, idempotence.
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cliEnv } from '../helpers/cli.js';
import { GROUPS, policies, sandbox, type Sandbox } from '../plan/fixtures.js';

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

const summaryOf = async (args: string[] = ['plan', '-o', 'json']) => JSON.parse((await sb.cli(args)).stdout).summary;

describe('emmctl apply', () => {
  it('refuses without --yes off a terminal, naming the flag, and applies nothing', async () => {
    const r = await sb.cli(['apply']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--yes');
    expect(r.stderr).toContain('nothing was applied');
    expect(await summaryOf()).toMatchObject({ create: 5, update: 0, delete: 0 });
  });

  it('applies once, then reports No changes', async () => {
    const first = await sb.cli(['apply', '--yes']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('+ created Policy/android-baseline (version 1)');
    expect(first.stdout).toContain('Apply complete: 5 created, 0 updated, 0 deleted.');
    expect(first.stderr).toContain('Next: emmctl plan');
    const second = await sb.cli(['apply', '--yes']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^No changes\./);
    // Without --yes too: nothing to confirm.
    expect((await sb.cli(['apply'])).code).toBe(0);
  });

  it('-o json reports what was applied', async () => {
    const r = await sb.cli(['apply', '--yes', '-o', 'json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.summary).toEqual({ create: 5, update: 0, delete: 0 });
    expect(out.applied[0]).toEqual({ op: 'create', kind: 'Group', name: 'all-managed', version: 1 });
  });

  it('--dry-run shows the plan and changes nothing', async () => {
    const r = await sb.cli(['apply', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Plan: 5 to create');
    expect(r.stderr).toContain('Dry run: nothing was applied.');
    expect(await summaryOf()).toMatchObject({ create: 5 });
  });

  it('prunes only with --prune, and only within --max-deletes', async () => {
    expect((await sb.cli(['apply', '--yes'])).code).toBe(0);
    sb.write('policies/policies.yaml', '');
    sb.write('policies/groups.yaml', GROUPS);
    const noPrune = await sb.cli(['apply', '--yes']);
    expect(noPrune.stdout).toMatch(/^No changes\./);
    expect(noPrune.code).toBe(0);
    const planned = await sb.cli(['plan', '--prune']);
    expect(planned.stdout).toContain('- delete CompliancePolicy/baseline-compliance\n- delete Policy/android-baseline\n- delete EnrollmentProfile/corp\n');
    const guarded = await sb.cli(['apply', '--prune', '--yes', '--max-deletes', '2']);
    expect(guarded.code).toBe(2);
    expect(guarded.stderr).toContain('the plan deletes 3 resources, more than --max-deletes 2');
    expect(guarded.stderr).toContain('--max-deletes 3');
    expect(await summaryOf(['plan', '--prune', '-o', 'json'])).toMatchObject({ delete: 3 });
    const ok = await sb.cli(['apply', '--prune', '--yes', '--max-deletes', '3']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('0 created, 0 updated, 3 deleted');
    expect((await sb.cli(['plan', '--prune', '--detailed-exitcode'])).code).toBe(0);
  });

  it('applies a saved plan, and refuses it once stale', async () => {
    expect((await sb.cli(['apply', '--yes'])).code).toBe(0);
    sb.write('policies/policies.yaml', policies(8));
    expect((await sb.cli(['plan', '--out', 'a.plan'])).code).toBe(0);
    expect((await sb.cli(['plan', '--out', 'b.plan'])).code).toBe(0);
    // The secret is re-read at apply time: without it the saved plan cannot apply.
    const noSecret = await sb.cli(['apply', '--plan', 'a.plan', '--yes'], { env: { CORP_WIFI_PSK: undefined } });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('CORP_WIFI_PSK');
    const a = await sb.cli(['apply', '--plan', 'a.plan', '--yes']);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('~ updated Policy/android-baseline (version 2)');
    const b = await sb.cli(['apply', '--plan', 'b.plan', '--yes']);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('plan is stale: Policy/android-baseline changed (version 2, plan expected 1); run emmctl plan again');
    expect((await sb.cli(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('refuses a saved plan made for another backend', async () => {
    expect((await sb.cli(['plan', '--out', 'a.plan'])).code).toBe(0);
    expect((await sb.cli(['server', 'token', 'create', '--role', 'admin'], { env: { EMMCTL_DATA_DIR: `${sb.root}/other` } })).code).toBe(0);
    const r = await sb.cli(['apply', '--plan', 'a.plan', '--yes'], { env: { EMMCTL_DATA_DIR: `${sb.root}/other` } });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`was made for embedded ${sb.env.EMMCTL_DATA_DIR} (store st_`);
  });

  it('refuses a file that is not a plan', async () => {
    sb.write('junk.plan', '{"hello": 1}');
    const r = await sb.cli(['apply', '--plan', 'junk.plan', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('junk.plan: not a plan file');
  });

  it('will not leave enrolled devices without a compliance policy unless told', async () => {
    sb.write('policies/policies.yaml', policies().replace('assign: [all-managed]', 'assign: [all]'));
    expect((await sb.cli(['apply', '--yes'])).code).toBe(0);
    const sim = await sb.cli(['simulate', '--devices', '3', '--once', '--seed', '7']);
    expect(sim.code, sim.stderr).toBe(0);
    // Drop the compliance policy only.
    sb.write('policies/policies.yaml', policies().split('---\n').filter((d) => !d.includes('CompliancePolicy')).join('---\n'));
    const table = await sb.cli(['compliance', '-o', 'json']);
    expect(table.code, table.stderr).toBe(0);
    const covered = (JSON.parse(table.stdout) as Array<{ state: string; policies: string[] }>)
      .filter((d) => d.state === 'enrolled' && d.policies.includes('baseline-compliance')).length;
    expect(covered).toBeGreaterThan(0);
    const guarded = await sb.cli(['apply', '--prune', '--yes']);
    expect(guarded.code).toBe(2);
    expect(guarded.stderr).toMatch(new RegExp(`leave ${covered} enrolled devices? \\(.+\\) without any compliance policy`));
    expect(guarded.stderr).toContain('--allow-orphaned-devices');
    // A replacement assigned to every device covers them.
    const replaced = policies().replace('assign: [all-managed]', 'assign: [all]').replace('name: baseline-compliance', 'name: new-compliance');
    sb.write('policies/policies.yaml', replaced);
    const covered2 = await sb.cli(['apply', '--prune', '--yes', '--dry-run']);
    expect(covered2.code, covered2.stderr).toBe(0);
    expect(covered2.stdout).toContain('+ create CompliancePolicy/new-compliance');
    sb.write('policies/policies.yaml', policies().split('---\n').filter((d) => !d.includes('CompliancePolicy')).join('---\n'));
    const ok = await sb.cli(['apply', '--prune', '--yes', '--allow-orphaned-devices']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('- deleted CompliancePolicy/baseline-compliance');
  });
});

/** Runs emmctl under a pseudo-terminal (util-linux `script`), answering the prompt once it shows. */
function applyOnTerminal(sb: Sandbox, answer: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const quoted = [process.execPath, BIN, 'apply'].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    // CI=true would rightly disable prompts; this test is about the terminal path.
    const child = spawn('script', ['-qfec', quoted, '/dev/null'], { cwd: sb.root, env: cliEnv({ ...sb.env, CI: undefined, TERM: 'xterm' }), stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no prompt seen:\n${output}`));
    }, 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (!answered && output.includes('(y/N)')) {
        answered = true;
        child.stdin.write(`${answer}\r`);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('emmctl apply on a terminal', () => {
  it('asks, and applies on yes', async () => {
    const r = await applyOnTerminal(sb, 'y');
    expect(r.output).toContain('Apply this plan (5 to create, 0 to update, 0 to delete)');
    expect(r.code).toBe(0);
    expect(r.output).toContain('Apply complete: 5 created');
    expect((await sb.cli(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('applies nothing on no', async () => {
    const r = await applyOnTerminal(sb, 'n');
    expect(r.code).toBe(130);
    expect(r.output).toContain('nothing was applied');
    expect(await summaryOf()).toMatchObject({ create: 5 });
  });
});
