// `emmctl audit --limit N` is "the last N", like tail, printed oldest → newest; with --since the
// log reads forward from that time and --limit keeps the first N.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { seedStore, type SeededStore } from './devices.seed.js';

let fleet: SeededStore;
const cli = (...args: string[]) => runCli(args, { env: fleet.env });

interface AuditJson {
  id: string;
  at: string;
  actor: string;
  action: string;
}

async function audit(...args: string[]): Promise<AuditJson[]> {
  const r = await cli('audit', ...args, '-o', 'json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as AuditJson[];
}

beforeAll(async () => {
  fleet = await seedStore();
});
afterAll(() => fleet.cleanup());

describe('audit --limit', () => {
  it('shows the most recent N records in chronological order', async () => {
    const all = await audit();
    expect(all.length).toBeGreaterThan(6);
    const last3 = await audit('--limit', '3');
    expect(last3.map((a) => a.id)).toEqual(all.slice(-3).map((a) => a.id));
    // Oldest → newest within the N, like tail.
    expect(last3.map((a) => Number(a.id))).toEqual([...last3.map((a) => Number(a.id))].sort((x, y) => x - y));
  });

  it('with more than there are, shows them all in order', async () => {
    const all = await audit();
    expect((await audit('--limit', String(all.length + 50))).map((a) => a.id)).toEqual(all.map((a) => a.id));
  });

  it('with --actor, the most recent N of that actor', async () => {
    const all = await audit();
    const actor = all[all.length - 1]!.actor;
    const ofActor = all.filter((a) => a.actor === actor);
    const last2 = await audit('--actor', actor, '--limit', '2');
    expect(last2.map((a) => a.id)).toEqual(ofActor.slice(-2).map((a) => a.id));
  });

  it('with --since, the first N since that time', async () => {
    const all = await audit();
    expect((await audit('--since', '1h', '--limit', '3')).map((a) => a.id)).toEqual(all.slice(0, 3).map((a) => a.id));
  });

  it('the table lists the latest record last', async () => {
    const all = await audit();
    const r = await cli('audit', '--limit', '2', '-o', 'wide');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain(all[all.length - 1]!.action);
    expect(lines[2]!.trim().endsWith(all[all.length - 1]!.id)).toBe(true);
    expect(lines[1]!.trim().endsWith(all[all.length - 2]!.id)).toBe(true);
  });
});
