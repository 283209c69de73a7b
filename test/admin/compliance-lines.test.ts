// `emmctl compliance -o json` through a server that sends each record on a line of its own (an
// emmctl server, src/model/page-lines.ts): the CLI prints those lines as they came instead of
// parsing and serialising every record again. The output, the summary, the --fail-on gate and its
// exit code must be exactly those of the same records sent compactly (parsed whole, serialised
// again), and a listing that fails after its first page is still reported as incomplete.
// The built CLI against a scripted server on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linedPageJson } from '../../src/model/page-lines.js';
import { runCli } from '../helpers/cli.js';
import { startFakeServer, type FakeServer, type Step } from '../http/fake-server.js';

const AT = '2026-01-01T00:00:00.000Z';
const failure = (policy: string, rule: string) => ({ policy, rule, expected: 'x', actual: 'y' });
// Records as an emmctl server makes them, with text JSON.stringify escapes (quotes, controls, a lone surrogate).
const record = (i: number) => {
  const status = ['compliant', 'noncompliant', 'in-grace', 'unknown'][i % 4]!;
  const failing = status === 'noncompliant' || status === 'in-grace';
  return {
    deviceId: `dev_${i}`,
    name: i === 5 ? 'phone "five"\u001b[2J\u009b\ud800' : `phone-${i}`,
    owner: `user${i}@example.com`,
    platform: i % 2 ? 'ios' : 'android',
    state: 'enrolled',
    status,
    failures: failing ? [failure('baseline', 'encryption'), failure('sales', 'requiredApps')] : [],
    policies: ['baseline', 'sales'],
    lastCheckIn: AT,
    ...(failing ? { noncompliantSince: AT, stepsFired: [{ policy: 'baseline', after: '0d', do: 'markNoncompliant', firedAt: AT }], stepsDue: [], nextAction: 'notify', nextActionAt: '2026-01-04T00:00:00.000Z', nextActionPolicy: 'baseline' } : {}),
  };
};
const PAGES = [Array.from({ length: 7 }, (_, i) => record(i)), Array.from({ length: 5 }, (_, i) => record(7 + i))];
const ALL = PAGES.flat();

type Layout = 'lined' | 'compact';
let fake: FakeServer;
let layout: Layout = 'lined';
let failSecond = false;
beforeAll(async () => {
  fake = await startFakeServer();
  fake.fallback = (req): Step => {
    const second = new URL(req.url, 'http://x').searchParams.get('cursor') === 'page-2';
    if (second && failSecond) return { status: 431, text: '<html>431 Request Header Fields Too Large</html>' };
    const page = second ? { items: PAGES[1]! } : { items: PAGES[0]!, nextCursor: 'page-2' };
    return { status: 200, text: layout === 'lined' ? linedPageJson(page) : JSON.stringify(page), headers: { 'content-type': 'application/json' } };
  };
});
afterAll(() => fake.close());

const compliance = (...args: string[]) => runCli(['compliance', ...args], { env: { EMMCTL_SERVER: fake.url, EMMCTL_TOKEN: 'emm_at_test', NO_COLOR: '1' } });

describe('compliance -o json from a server that sends a record per line', () => {
  it('prints the records as the compact layout does, byte for byte: JSON.stringify of each, one per line', async () => {
    failSecond = false;
    const runs: Record<Layout, Awaited<ReturnType<typeof compliance>>> = {} as never;
    for (const l of ['lined', 'compact'] as const) {
      layout = l;
      runs[l] = await compliance('-o', 'json');
      expect(runs[l].code, runs[l].stderr).toBe(0);
    }
    expect(runs.lined.stdout).toBe(`[\n${ALL.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
    expect(runs.lined.stdout).toBe(runs.compact.stdout);
    expect(runs.lined.stderr).toBe(runs.compact.stderr);
    expect(runs.lined.stderr).toMatch(/12 devices: compliant 3 \(25\.0%\), noncompliant 3 \(25\.0%\), in-grace 3 \(25\.0%\), unknown 3 \(25\.0%\)/);
  });

  it('--fail-on counts the records it printed: exit 5 with the gate message, the same for both layouts', async () => {
    failSecond = false;
    for (const l of ['lined', 'compact'] as const) {
      layout = l;
      const r = await compliance('-o', 'json', '--fail-on', 'noncompliant,unknown');
      expect(r.code, `${l}: ${r.stderr}`).toBe(5);
      expect(JSON.parse(r.stdout)).toEqual(ALL);
      expect(r.stderr).toMatch(/compliance gate failed: 3 noncompliant, 3 unknown \(--fail-on noncompliant,unknown\)/);
    }
    layout = 'lined';
    const passing = await compliance('-o', 'json', '--fail-on', 'noncompliant', '--filter', 'platform=android', '--limit', '1');
    expect(passing.code, passing.stderr).toBe(0);
    expect(passing.stdout).toBe(`[\n${JSON.stringify(ALL[0])}\n]\n`);
  });

  it('a page that fails after a lined one: exit 1, the array left unterminated, no summary, no gate verdict', async () => {
    layout = 'lined';
    failSecond = true;
    try {
      const r = await compliance('-o', 'json', '--fail-on', 'noncompliant');
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe(`[\n${PAGES[0]!.map((x) => JSON.stringify(x)).join(',\n')}`);
      expect(r.stderr).toMatch(/the listing failed after 7 records, so the output is incomplete; the JSON array is left unterminated/);
      expect(r.stderr).not.toMatch(/devices: compliant|compliance gate failed/);
    } finally {
      failSecond = false;
    }
  });

  it('prints a line as the server wrote it (JSON.stringify writes 1.0 as 1; a line that says 1.0 is printed so)', async () => {
    // Proves the lines are printed, not parsed and written again; an emmctl server writes JSON.stringify's text.
    failSecond = false;
    const saved = fake.fallback;
    fake.fallback = () => ({ status: 200, text: '{"items":[\n{"deviceId":"dev_1","name":"a","platform":"ios","state":"enrolled","status":"compliant","failures":[],"policies":[],"weight":1.0}\n]}', headers: { 'content-type': 'application/json' } });
    try {
      const r = await compliance('-o', 'json');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('[\n{"deviceId":"dev_1","name":"a","platform":"ios","state":"enrolled","status":"compliant","failures":[],"policies":[],"weight":1.0}\n]\n');
    } finally {
      fake.fallback = saved;
    }
  });

  it('the table and csv read the same records from the lined layout', async () => {
    failSecond = false;
    const out: Record<Layout, string[]> = { lined: [], compact: [] };
    for (const l of ['lined', 'compact'] as const) {
      layout = l;
      for (const format of ['csv', 'wide', 'yaml']) {
        const r = await compliance('-o', format);
        expect(r.code, r.stderr).toBe(0);
        out[l].push(r.stdout);
      }
    }
    expect(out.lined).toEqual(out.compact);
    expect(out.lined[0]).toContain('dev_11');
    // Terminal output stays sanitised: the escape in device 5's name is shown, not sent.
    expect(out.lined[1]).not.toContain('\u001b');
  });
});
