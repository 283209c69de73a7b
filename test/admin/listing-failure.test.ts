// A listing that fails mid-stream (issue #7 item 8, CLI part): the first page arrives, the next
// never does (a 431 from a proxy, a server killed). The built CLI against a scripted server on
// loopback must exit non-zero and say on stderr that the output is incomplete; -o json must not
// look like a whole document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { startFakeServer, type FakeServer, type Step } from '../http/fake-server.js';

const AT = '2026-01-01T00:00:00.000Z';
const device = (i: number) => ({ id: `dev_${i}`, name: `phone-${i}`, serial: `S${i}`, platform: 'android', ownership: 'corporate', labels: {}, state: 'enrolled', enrolledAt: AT });
const ITEMS: Record<string, (i: number) => unknown> = {
  '/v1/devices': device,
  '/v1/compliance': (i) => ({ deviceId: `dev_${i}`, name: `phone-${i}`, platform: 'android', state: 'enrolled', status: 'compliant', failures: [], policies: [] }),
  '/v1/commands': (i) => ({ id: `cmd_${i}`, deviceId: `dev_${i}`, type: 'lock', status: 'queued', requestedBy: 'admin', createdAt: AT, updatedAt: AT }),
  '/v1/audit': (i) => ({ id: i, at: AT, actor: 'admin', source: 'api', action: 'device.lock', target: `dev_${i}` }),
};

let fake: FakeServer;
let secondPage: Step;
beforeAll(async () => {
  fake = await startFakeServer();
  // Page 1 of any listing comes whole with a cursor; the page after it fails as scripted.
  fake.fallback = (req) => {
    const url = new URL(req.url, 'http://x');
    const item = ITEMS[url.pathname];
    if (!item) return { status: 404, json: { error: { code: 'not_found', message: 'no route' } } };
    if (url.searchParams.has('cursor')) return secondPage;
    return { status: 200, json: { items: [1, 2, 3].map(item), nextCursor: 'page-2' } };
  };
});
afterAll(() => fake.close());

const cli = (...args: string[]) => runCli(args, { env: { EMMCTL_SERVER: fake.url, EMMCTL_TOKEN: 'emm_at_test' } });
const TOO_LARGE: Step = { status: 431, text: '<html>431 Request Header Fields Too Large</html>' };

describe('a listing whose next page fails', () => {
  it('-o json: exit non-zero, the array left unterminated, stderr says the output is incomplete', async () => {
    secondPage = TOO_LARGE;
    for (const command of [['devices', 'list'], ['compliance'], ['commands', 'list'], ['audit']]) {
      const r = await cli(...command, '-o', 'json');
      expect(r.code, `${command.join(' ')}: ${r.stderr}`).toBe(1);
      expect(() => JSON.parse(r.stdout)).toThrow();
      expect(r.stdout.startsWith('[\n{')).toBe(true); // the records that did arrive are kept
      expect(r.stderr).toMatch(/the listing failed after 3 records, so the output is incomplete; the JSON array is left unterminated/);
      expect(r.stderr).not.toMatch(/\d+ devices?: compliant/); // no summary of a partial listing
    }
  });

  it('yaml, csv and table: the same exit and message, saying the data above is not all of it', async () => {
    secondPage = TOO_LARGE;
    const yaml = await cli('devices', 'list', '-o', 'yaml');
    expect(yaml.code).toBe(1);
    expect(parse(yaml.stdout)).toHaveLength(3);
    expect(yaml.stderr).toMatch(/failed after 3 records, so the output is incomplete \(the yaml above looks complete but is not\)/);
    const csv = await cli('devices', 'list', '-o', 'csv');
    expect(csv.code).toBe(1);
    expect(csv.stderr).toMatch(/output is incomplete \(the csv above/);
    const table = await cli('devices', 'list');
    expect(table.code).toBe(1);
    expect(table.stderr).toMatch(/the listing failed after 3 records, so the output is incomplete/);
  });

  it('a server that dies mid-listing (connections dropped): exit non-zero, incomplete said plainly', async () => {
    secondPage = { reset: true };
    const r = await cli('devices', 'list', '-o', 'json');
    expect(r.code).toBe(1);
    expect(() => JSON.parse(r.stdout)).toThrow();
    expect(r.stderr).toMatch(/the listing failed after 3 records, so the output is incomplete/);
  });

  it('a listing that ends normally still closes its document (control)', async () => {
    const saved = fake.fallback;
    fake.fallback = () => ({ status: 200, json: { items: [device(1)] } });
    try {
      const r = await cli('devices', 'list', '-o', 'json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toHaveLength(1);
    } finally {
      fake.fallback = saved;
    }
  });
});
