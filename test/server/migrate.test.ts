// `emmctl server migrate` with the built CLI, on real PostgreSQL and on the embedded store:
// versions reported, usage errors for an ambiguous or unsafe store choice, and the database
// password in no output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { PG_LATEST_VERSION, PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';

describe('emmctl server migrate', () => {
  let db: FreshDatabase;
  let password: string;
  let bare: string;
  let location: string;
  beforeAll(async () => {
    db = await freshDatabase();
    const u = new URL(db.url);
    password = decodeURIComponent(u.password);
    u.password = '';
    bare = u.toString();
    location = bare;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('migrates an empty database, then finds nothing to apply; the password is in no output', async () => {
    const first = await runCli(['server', 'migrate', '--database', bare], { env: { PGPASSWORD: password } });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`database ${location}: schema version 0 → ${PG_LATEST_VERSION}\n${PG_MIGRATIONS.map((m) => `  applied ${m.version}: ${m.name}\n`).join('')}`);
    // The whole URL, password included, may come from the environment.
    const again = await runCli(['server', 'migrate', '-o', 'json'], { env: { EMMCTL_DATABASE_URL: db.url } });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ engine: 'postgres', location, from: PG_LATEST_VERSION, to: PG_LATEST_VERSION, applied: [] });
    for (const r of [first, again]) expect(r.stdout + r.stderr).not.toContain(password);
  });

  it('refuses a password in the --database flag, naming the URL without it (exit 2)', async () => {
    const r = await runCli(['server', 'migrate', '--database', db.url]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`error: --database ${location}: a password does not go in a flag`);
    expect(r.stderr).not.toContain(password);
  });

  it('refuses two stores at once (exit 2)', async () => {
    const dir = tempDir();
    try {
      const both = await runCli(['server', 'migrate', '--database', bare, '--data-dir', dir.path]);
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('error: --database and --data-dir name two different stores');
      const envs = await runCli(['server', 'migrate'], { env: { EMMCTL_DATABASE_URL: bare, EMMCTL_DATA_DIR: dir.path } });
      expect(envs.code).toBe(2);
      expect(envs.stderr).toContain('error: EMMCTL_DATABASE_URL and EMMCTL_DATA_DIR are both set');
      // A flag decides over a variable.
      const flag = await runCli(['server', 'migrate', '--data-dir', dir.path, '-o', 'json'], { env: { EMMCTL_DATABASE_URL: bare } });
      expect(flag.code).toBe(0);
      expect(JSON.parse(flag.stdout)).toMatchObject({ engine: 'sqlite', location: dir.path });
    } finally {
      dir.cleanup();
    }
  });

  it('says which database it could not reach (exit 1), without the password', async () => {
    const u = new URL(db.url);
    u.port = '1';
    const r = await runCli(['server', 'migrate'], { env: { EMMCTL_DATABASE_URL: u.toString() } });
    expect(r.code).toBe(1);
    u.password = '';
    expect(r.stderr).toContain(`error: cannot connect to database ${u.toString()}: connect ECONNREFUSED`);
    expect(r.stderr).not.toContain(password);
  });

  it('on the embedded store, reports the version it is at', async () => {
    const dir = tempDir();
    try {
      const r = await runCli(['server', 'migrate', '--data-dir', dir.path]);
      expect(r.code).toBe(0);
      const { storeSchemaVersion } = JSON.parse((await runCli(['version', '-o', 'json'])).stdout) as { storeSchemaVersion: number };
      expect(r.stdout).toBe(`store ${dir.path}: schema version ${storeSchemaVersion}\n`);
    } finally {
      dir.cleanup();
    }
  });
});
