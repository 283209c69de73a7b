// 80-column terminals (issue #7 item 22): ids are never cut, free text shrinks first, widths are
// terminal cells (CJK and emoji take 2, combining marks 0), and the compliance table names the
// device id. The built CLI on a pseudo-terminal of 80 columns, on a real seeded store.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv } from '../helpers/cli.js';
import { seedStore, type SeededStore } from '../admin/devices.seed.js';

const NAMES = ['LT-0001 Ana Lopez MacBook Pro 16-inch 2023', '山田太郎のiPhone 15 Pro Max', '📱 Bo phone for the field team', 'Zoe\u0308 tablet in the warehouse'];

let fleet: SeededStore;
beforeAll(async () => {
  fleet = await seedStore([
    { name: NAMES[0]!, serial: 'S1', platform: 'android', owner: 'ana.lopez-fernandez@example.com', posture: { osVersion: '12' } },
    { name: NAMES[1]!, serial: 'S2', platform: 'ios', owner: 'taro.yamada@example.co.jp', posture: { osVersion: '17.4' } },
    { name: NAMES[2]!, serial: 'S3', platform: 'android', owner: 'bo@example.com', posture: {} },
    { name: NAMES[3]!, serial: 'S4', platform: 'android', owner: 'zoe@example.com', posture: {} },
  ]);
});
afterAll(() => fleet.cleanup());

/** Terminal cells of the characters these tests use, counted independently of the renderer. */
function cells(text: string): number {
  let n = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x300 && cp <= 0x36f) continue; // combining marks
    n += (cp >= 0x3000 && cp <= 0x9fff) || (cp >= 0x1f300 && cp <= 0x1faff) ? 2 : 1;
  }
  return n;
}

/** The cell where `needle` starts in `line`. */
const cellOffset = (line: string, needle: string) => cells(line.slice(0, line.indexOf(needle)));

function at80(args: string[]): string[] {
  const r = spawnSync('script', ['-qfec', `stty cols 80; '${process.execPath}' '${BIN}' ${args.join(' ')}`, '/dev/null'], {
    env: cliEnv({ ...fleet.env, NO_COLOR: '1' }),
    encoding: 'utf8',
  });
  expect(r.status, r.stdout).toBe(0);
  return r.stdout.replaceAll('\r', '').split('\n').filter((l) => l.trim() !== '');
}

describe('tables on an 80-column terminal', () => {
  it('devices list: whole ids, every row within 80 cells, names readable and aligned across CJK, emoji and combining marks', () => {
    const lines = at80(['devices', 'list']);
    expect(lines[0]).toMatch(/^ID\s+NAME\s+PLATFORM\s+OS\s+OWNER\s+STATE/);
    const rows = lines.slice(1);
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(cells(row)).toBeLessThanOrEqual(80);
    const rowOf = (name: string) => rows.find((r) => r.startsWith(`${fleet.ids[name]!}  `)) ?? ''; // the id, whole
    // Free text shrank, not to a stub: at least 12 cells of every name are shown.
    expect(rowOf(NAMES[0]!)).toContain('LT-0001 Ana');
    expect(rowOf(NAMES[1]!)).toContain('山田太郎の');
    expect(rowOf(NAMES[2]!)).toContain('📱 Bo phone');
    expect(rowOf(NAMES[3]!)).toContain('Zoe\u0308 tablet');
    // Aligned in terminal cells: PLATFORM starts at the same cell on every row.
    const platformAt = cellOffset(lines[0]!, 'PLATFORM');
    for (const row of rows) expect(cellOffset(row, row.includes('android') ? 'android' : 'ios')).toBe(platformAt);
  });

  it('compliance: the device id is a column, never cut', () => {
    const lines = at80(['compliance']);
    expect(lines[0]).toMatch(/^DEVICE\s+ID\s+PLATFORM\s+OS\s+STATUS\s+FAILING RULES$/);
    const idAt = cellOffset(lines[0]!, 'ID');
    for (const name of NAMES) {
      const id = fleet.ids[name]!;
      const row = lines.find((l) => l.includes(`${id}  `));
      expect(row, `${id} whole in:\n${lines.join('\n')}`).toBeDefined();
      expect(cells(row!)).toBeLessThanOrEqual(80);
      expect(cellOffset(row!, id)).toBe(idAt);
    }
    expect(lines.find((l) => l.startsWith('LT-0001'))).toMatch(/noncompliant\s+minOsVersion$/);
  });
});
