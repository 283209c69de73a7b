// A fresh, empty PostgreSQL database for a test or a test file, on the run's server (started by
// test/global-setup.ts, or EMMCTL_TEST_DATABASE_URL's), dropped again afterwards:
//
//   let db: FreshDatabase;
//   beforeAll(async () => { db = await freshDatabase(); });
//   afterAll(() => db.drop());
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface FreshDatabase {
  /** The database's URL, password included (the test server's, never a real secret). */
  url: string;
  name: string;
  /** Drops the database, closing any connection still open to it (idempotent). */
  drop(): Promise<void>;
}

export function postgresAdminUrl(): string {
  return inject('postgresAdminUrl');
}

/** Runs one statement as the server's superuser, on its maintenance database. */
export async function adminQuery(text: string, url = postgresAdminUrl()): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

export interface FreshDatabaseOptions {
  /**
   * Create it with this ICU locale as its default collation (e.g. 'en-US', where 'B' sorts after
   * 'a'), to show that emmctl's schema does not depend on the database's locale.
   */
  icuLocale?: string;
}

export async function freshDatabase(options: FreshDatabaseOptions = {}): Promise<FreshDatabase> {
  const admin = postgresAdminUrl();
  // The pid keeps concurrent runs against one EMMCTL_TEST_DATABASE_URL server apart; a leftover
  // from a killed run is recognisable by its prefix.
  const name = `emmctl_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  const locale = options.icuLocale;
  if (locale !== undefined && !/^[A-Za-z0-9-]+$/.test(locale)) throw new Error(`unexpected ICU locale ${locale}`);
  await adminQuery(locale ? `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${locale}' LOCALE 'C'` : `CREATE DATABASE ${name}`, admin);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, admin);
    },
  };
}

/** The URL's password (decoded). */
export function passwordOf(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

/** The URL without its password: what `--database` takes, and what every message shows. */
export function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

/** How a CLI child reaches this database: the bare URL as --database, the password in PGPASSWORD. */
export function cliDatabase(db: FreshDatabase): { database: string; env: Record<string, string> } {
  return { database: withoutPassword(db.url), env: { PGPASSWORD: passwordOf(db.url) } };
}
