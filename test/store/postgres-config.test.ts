// Database URL settings: what each URL means, where the password comes from, TLS options, and
// that no message or location ever shows a password.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmmctlError, ExitCode, UsageError } from '../../src/errors.js';
import { parseDatabaseUrl, readPgpass, redactUrl } from '../../src/store/postgres/config.js';

let dir: string;
let emptyHome: NodeJS.ProcessEnv;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'emmctl-pgconfig-'));
  emptyHome = { HOME: join(dir, 'empty-home') };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const failure = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
};

describe('parseDatabaseUrl', () => {
  it('reads user, host, port and database; the location never has the password', () => {
    const s = parseDatabaseUrl('postgres://emm:s3cr%3At@db.example.com:6543/fleet', emptyHome);
    expect(s).toMatchObject({ host: 'db.example.com', port: 6543, user: 'emm', database: 'fleet', password: 's3cr:t', passwordSource: 'url', sslmode: 'disable', ssl: false });
    expect(s.location).toBe('postgres://emm@db.example.com:6543/fleet');
  });

  it('takes libpq defaults: port 5432, database named after the user, postgresql:// too', () => {
    const s = parseDatabaseUrl('postgresql://ana@[::1]', emptyHome);
    expect(s).toMatchObject({ host: '::1', port: 5432, user: 'ana', database: 'ana' });
    expect(s.password).toBeUndefined();
  });

  it('refuses what it cannot honour, as usage errors naming the parameter but never a value', () => {
    const cases: Array<[string, RegExp]> = [
      ['mysql://u@h/db', /must start with postgres:\/\/ or postgresql:\/\//],
      ['postgres://u@h/db?sslmode=prefer', /sslmode=prefer is not supported \(node-postgres cannot fall back/],
      ['postgres://u@h/db?sslmode=bogus', /sslmode=bogus is not supported/],
      ['postgres://u@h/db?password=hunter2', /unknown parameter "password"/],
      ['postgres://u@h/db?sslmode=require&sslmode=disable', /parameter "sslmode" is given more than once/],
      ['postgres://u@h/db?sslrootcert=/x', /sslrootcert given but sslmode is disable/],
      ['postgres://u@h/db?sslmode=require&sslcert=/x', /sslcert and sslkey go together/],
      ['postgres://u@h/a/b', /the path must be one database name/],
      ['postgres://u@h/db?connect_timeout=0', /connect_timeout must be a whole number of seconds, at least 1/],
    ];
    for (const [url, message] of cases) {
      const e = failure(() => parseDatabaseUrl(url, emptyHome));
      expect(e, url).toBeInstanceOf(UsageError);
      expect((e as UsageError).exitCode).toBe(ExitCode.USAGE);
      expect(e.message, url).toMatch(message);
      expect(e.message).not.toContain('hunter2');
    }
  });

  it('never echoes a password in a refusal', () => {
    const e = failure(() => parseDatabaseUrl('postgres://u:hunter2@h/db?bogus=1', emptyHome));
    expect(e.message).toBe('database URL postgres://u@h/db?bogus=1: unknown parameter "bogus"');
  });

  describe('the password', () => {
    it('comes from EMMCTL_DATABASE_PASSWORD_FILE (one trailing newline dropped), before PGPASSWORD', () => {
      const file = join(dir, 'pw');
      writeFileSync(file, 'from-file\n', { mode: 0o600 });
      expect(parseDatabaseUrl('postgres://u@h/db', { ...emptyHome, EMMCTL_DATABASE_PASSWORD_FILE: file, PGPASSWORD: 'from-env' })).toMatchObject({ password: 'from-file', passwordSource: 'file' });
      expect(parseDatabaseUrl('postgres://u@h/db', { ...emptyHome, PGPASSWORD: 'from-env' })).toMatchObject({ password: 'from-env', passwordSource: 'PGPASSWORD' });
    });

    it('is given one way only: URL and file together are a usage error', () => {
      const file = join(dir, 'pw2');
      writeFileSync(file, 'x', { mode: 0o600 });
      const e = failure(() => parseDatabaseUrl('postgres://u:inurl@h/db', { ...emptyHome, EMMCTL_DATABASE_PASSWORD_FILE: file }));
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toBe('database URL postgres://u@h/db carries a password and EMMCTL_DATABASE_PASSWORD_FILE is set too');
    });

    it('a password file that is missing, empty or holds several lines is an error naming the file', () => {
      writeFileSync(join(dir, 'empty'), '\n');
      writeFileSync(join(dir, 'two'), 'a\nb\n');
      for (const [name, message] of [['missing', /cannot read EMMCTL_DATABASE_PASSWORD_FILE .*missing: ENOENT/], ['empty', /empty$/], ['two', /holds more than one line/]] as const) {
        const e = failure(() => parseDatabaseUrl('postgres://u@h/db', { ...emptyHome, EMMCTL_DATABASE_PASSWORD_FILE: join(dir, name) }));
        expect(e).toBeInstanceOf(EmmctlError);
        expect(e.message).toMatch(message);
      }
    });

    it('comes from ~/.pgpass (or PGPASSFILE): first matching line, wildcards and escapes, ignored when others can read it', () => {
      const home = join(dir, 'home');
      const pgpass = join(dir, 'pgpass');
      writeFileSync(pgpass, ['# comment', 'h:5432:other:u:wrong-db', 'h:*:db:u:pa\\:ss\\\\word:with:colons', 'h:5432:db:u:second'].join('\n'), { mode: 0o600 });
      expect(parseDatabaseUrl('postgres://u@h/db', { HOME: home, PGPASSFILE: pgpass })).toMatchObject({ password: 'pa:ss\\word:with:colons', passwordSource: 'pgpass' });
      expect(readPgpass(pgpass, { host: 'h', port: 5432, database: 'nope', user: 'u' })).toBeUndefined();
      writeFileSync(join(dir, 'open-pgpass'), 'h:*:*:*:visible\n', { mode: 0o644 });
      expect(readPgpass(join(dir, 'open-pgpass'), { host: 'h', port: 5432, database: 'db', user: 'u' })).toBeUndefined();
    });
  });

  describe('TLS', () => {
    it('passes the sslmode and certificate files through as Node TLS options', () => {
      const ca = join(dir, 'ca.pem');
      const cert = join(dir, 'client.pem');
      const key = join(dir, 'client.key');
      writeFileSync(ca, 'CA');
      writeFileSync(cert, 'CERT');
      writeFileSync(key, 'KEY');
      const full = parseDatabaseUrl(`postgres://u@h/db?sslmode=verify-full&sslrootcert=${ca}&sslcert=${cert}&sslkey=${key}`, emptyHome);
      expect(full.ssl).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY', rejectUnauthorized: true });
      const verifyCa = parseDatabaseUrl(`postgres://u@h/db?sslmode=verify-ca&sslrootcert=${ca}`, emptyHome).ssl as Record<string, unknown>;
      expect(verifyCa).toMatchObject({ ca: 'CA', rejectUnauthorized: true });
      expect(typeof verifyCa.checkServerIdentity).toBe('function');
      // require: encrypted but unverified, as libpq does, unless a root certificate is named.
      expect(parseDatabaseUrl('postgres://u@h/db?sslmode=require', emptyHome).ssl).toMatchObject({ rejectUnauthorized: false });
      expect(parseDatabaseUrl(`postgres://u@h/db?sslmode=require&sslrootcert=${ca}`, emptyHome).ssl).toMatchObject({ ca: 'CA', rejectUnauthorized: true });
      // system: the platform's trusted roots.
      expect(parseDatabaseUrl('postgres://u@h/db?sslmode=verify-full&sslrootcert=system', emptyHome).ssl).toEqual({ rejectUnauthorized: true });
    });

    it('an unreadable certificate file is an error naming it', () => {
      const e = failure(() => parseDatabaseUrl(`postgres://u@h/db?sslmode=verify-full&sslrootcert=${join(dir, 'nope.pem')}`, emptyHome));
      expect(e.message).toMatch(/cannot read sslrootcert .*nope\.pem: ENOENT/);
    });
  });
});

describe('redactUrl', () => {
  it('removes the password, keeps everything else', () => {
    expect(redactUrl('postgres://emm:hunter2@db:5432/fleet?sslmode=require')).toBe('postgres://emm@db:5432/fleet?sslmode=require');
    expect(redactUrl('postgres://:hunter2@db/fleet')).toBe('postgres://db/fleet');
    expect(redactUrl('postgres://emm@db/fleet')).toBe('postgres://emm@db/fleet');
  });

  it('hides secret-looking parameters', () => {
    expect(redactUrl('postgres://emm@db/fleet?password=hunter2&sslpassword=x')).toBe('postgres://emm@db/fleet?password=%28redacted%29&sslpassword=%28redacted%29');
  });

  it('still removes the password from text that is not a valid URL', () => {
    for (const text of ['postgres://emm:hun@ter2@db:99999/fleet', 'postgres://emm:hunter2/x@db:bad/fleet']) {
      const out = redactUrl(text);
      expect(out).not.toContain('hunter2');
      expect(out).not.toContain('ter2');
      expect(out.startsWith('postgres://emm@')).toBe(true);
    }
  });
});
