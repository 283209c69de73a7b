// Glob filters (`*`, `?`) on every globbable field: a linear matcher, never a backtracking RegExp,
// checked against a reference matcher on random patterns, through the CLI on a real store and
// through a real server; and the documented length cap on filter values (exit 2 / 400).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The simulator's seeded PRNG, so a failure can be replayed.
import { mulberry32 as rng } from '../../src/agent/fleet.js';
import { globMatch, MAX_FILTER_VALUE_LENGTH, ownerMatches } from '../../src/model/filter.js';
import { globMatches } from '../../src/store/device-query.js';
import { runCli } from '../helpers/cli.js';
import { call, createToken, killAll, startServerProcess, type ServerProcess } from '../server/helpers.js';
import { FLEET, seedStore, type SeedDevice, type SeededStore } from './devices.seed.js';

/** Reference: the textbook dynamic programme over code points, a different algorithm from globMatch. */
function reference(text: string, pattern: string): boolean {
  const t = Array.from(text);
  const p = Array.from(pattern);
  // row[j]: does p[0..i) match t[0..j)?
  let row = new Array<boolean>(t.length + 1).fill(false);
  row[0] = true;
  for (let i = 1; i <= p.length; i++) {
    const next = new Array<boolean>(t.length + 1).fill(false);
    const pc = p[i - 1];
    if (pc === '*') next[0] = row[0]!;
    for (let j = 1; j <= t.length; j++) {
      if (pc === '*') next[j] = row[j]! || next[j - 1]!;
      else next[j] = row[j - 1]! && (pc === '?' || pc === t[j - 1]);
    }
    row = next;
  }
  return row[t.length]!;
}

function randomString(next: () => number, alphabet: string[], max: number): string {
  let s = '';
  const n = Math.floor(next() * (max + 1));
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(next() * alphabet.length)];
  return s;
}

describe('globMatch equals the reference matcher', () => {
  it('on 20,000 random pattern/text pairs (with *, ?, runs of stars, emoji)', () => {
    const next = rng(7);
    const textChars = ['a', 'b', 'c', '-', '😀'];
    const patChars = ['a', 'b', '-', '😀', '*', '*', '?'];
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = randomString(next, textChars, 12);
      const pattern = randomString(next, patChars, 10);
      const want = reference(text, pattern);
      if (globMatch(text, pattern) !== want) throw new Error(`globMatch(${JSON.stringify(text)}, ${JSON.stringify(pattern)}) should be ${want}`);
      if (want) matched += 1;
    }
    // The sample must exercise both outcomes, or the comparison proves little.
    expect(matched).toBeGreaterThan(1000);
    expect(matched).toBeLessThan(19_000);
  });

  it('answers pathological patterns that make a backtracking RegExp explode', () => {
    const text = 'a'.repeat(200);
    expect(globMatch(text, `${'*'.repeat(100)}!`)).toBe(false);
    expect(globMatch(text, `${'a*'.repeat(60)}b`)).toBe(false);
    expect(globMatch(text, `${'*a'.repeat(60)}*`)).toBe(true);
    expect(globMatch(`${text}!`, `${'*'.repeat(100)}!`)).toBe(true);
  });

  it('store and owner matching are case-insensitive; ? is one character; a bare domain means @domain', () => {
    expect(globMatches('Ana-Pixel', 'ana-*')).toBe(true);
    expect(globMatches('ana-pixel', '???-pixel')).toBe(true);
    expect(globMatches('ana-pixel', '??-pixel')).toBe(false);
    expect(globMatches('📱-x', '?-x')).toBe(true);
    expect(globMatches(null, '*')).toBe(false);
    expect(ownerMatches('Ana@Example.com', '*@example.com')).toBe(true);
    expect(ownerMatches('ana@example.com', 'example.com')).toBe(true);
    expect(ownerMatches('ana@notexample.com', 'example.com')).toBe(false);
    expect(ownerMatches('ana@example.com', 'a?a@*')).toBe(true);
  });
});

// Names over a small alphabet so random patterns hit some and miss others.
const next = rng(11);
const EXTRA: SeedDevice[] = Array.from({ length: 40 }, (_, i) => ({
  name: `${randomString(next, ['a', 'b', '-'], 8)}x${i}`,
  serial: `SN-${randomString(next, ['A', 'B', '7'], 6)}-${i}`,
  platform: i % 2 ? 'android' : 'ios',
  owner: `u${i}@${i % 3 ? 'example.com' : 'other.org'}`,
  posture: { osVersion: i % 2 ? '14' : '17.4' },
}));
const DEVICES = [...FLEET, ...EXTRA];

let fleet: SeededStore;
let server: ServerProcess;
let viewer: string;
const cli = (...args: string[]) => runCli(args, { env: fleet.env });
const names = async (...filters: string[]) => {
  const r = await cli('devices', 'list', '-o', 'json', ...filters.flatMap((f) => ['--filter', f]));
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Array<{ name: string }>).map((d) => d.name).sort();
};

beforeAll(async () => {
  fleet = await seedStore(DEVICES);
  viewer = await createToken(fleet.dataDir, 'viewer', 'glob-viewer');
  server = await startServerProcess(fleet.dataDir);
});
afterAll(async () => {
  await server?.stop();
  killAll();
  fleet.cleanup();
});

describe('glob filters through the CLI (embedded store)', () => {
  it('name=************! and longer star runs return nothing, promptly, on every globbable field', async () => {
    const stars = `${'*'.repeat(40)}!`;
    for (const field of ['name', 'serial', 'model', 'owner', 'label.team']) {
      const r = await cli('devices', 'list', '-o', 'json', '--filter', `${field}=${stars}`);
      expect(r.code, `${field}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([]);
    }
    expect(await names(`name=${'*'.repeat(12)}!`)).toEqual([]);
    expect(await names(`name=${'*'.repeat(12)}pixel`)).toEqual(['ana-pixel', 'cy-pixel']);
  });

  it('random patterns select exactly the devices the reference matcher selects', async () => {
    const gen = rng(23);
    let hits = 0;
    for (let i = 0; i < 8; i++) {
      const pattern = `${randomString(gen, ['a', 'b', '-', '*', '?'], 5)}*${randomString(gen, ['x', '1', '*', '?'], 3)}`;
      const want = DEVICES.filter((d) => reference(d.name.toLowerCase(), pattern.toLowerCase())).map((d) => d.name).sort();
      expect(await names(`name=${pattern}`), pattern).toEqual(want);
      hits += want.length ? 1 : 0;
    }
    expect(hits).toBeGreaterThan(1);
    expect(hits).toBeLessThan(8);
  });

  it('? matches one character, label values glob, != negates a glob', async () => {
    expect(await names('name=??-pixel')).toEqual(['cy-pixel']);
    expect(await names('name=???-pixel')).toEqual(['ana-pixel']);
    expect((await names('label.team=SAL*')).length).toBe(DEVICES.length);
    expect(await names('label.team!=s?les')).toEqual([]);
    expect(await names('name!=*x*', 'platform=ios')).toEqual(['di-iphone', 'ed-iphone']);
  });

  it(`a filter value longer than ${MAX_FILTER_VALUE_LENGTH} characters is a usage error (exit 2), at the limit it runs`, async () => {
    const over = await cli('devices', 'list', '--filter', `name=${'*'.repeat(MAX_FILTER_VALUE_LENGTH)}a`);
    expect(over.code).toBe(2);
    expect(over.stderr).toMatch(new RegExp(`too long.*\\n.*at most ${MAX_FILTER_VALUE_LENGTH} characters`));
    expect(over.stdout).toBe('');
    const huge = await cli('compliance', '--filter', `owner=${'x'.repeat(100_000)}`);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/too long/);
    expect(await names(`name=${'*'.repeat(MAX_FILTER_VALUE_LENGTH - 1)}!`)).toEqual([]);
  });
});

describe('glob filters through the server', () => {
  const list = (filter: string) => call(server.url, 'GET', `/v1/devices?filter=${encodeURIComponent(filter)}`, { token: viewer });

  it('a viewer sending pathological patterns gets answers, and the server keeps answering', async () => {
    const [a, b, c] = await Promise.all([list(`name=${'*'.repeat(60)}!`), list(`owner=${'*'.repeat(60)}@`), list(`serial=${'*?'.repeat(60)}!`)]);
    for (const r of [a, b, c]) {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.items).toEqual([]);
    }
    const ok = await list('name=*-pixel');
    expect(ok.status).toBe(200);
    expect((ok.body.items as Array<{ name: string }>).map((d) => d.name).sort()).toEqual(['ana-pixel', 'cy-pixel']);
  });

  it(`answers 400 for a filter value over ${MAX_FILTER_VALUE_LENGTH} characters`, async () => {
    const r = await list(`name=${'a'.repeat(MAX_FILTER_VALUE_LENGTH + 1)}`);
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/too long/);
    const label = await list(`label.${'k'.repeat(200)}=v`);
    expect(label.status).toBe(400);
  });
});
