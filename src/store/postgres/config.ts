// Connection settings for the PostgreSQL engine, from one `postgres://user@host:port/db?…` URL.
// The password is never a flag: it comes from the URL itself, EMMCTL_DATABASE_PASSWORD_FILE,
// PGPASSWORD or the standard ~/.pgpass, in that order. It never reaches a message: everything that
// names the database shows redactUrl()'s form, which has no password.
// Other PG* variables (PGHOST, PGUSER, PGSSLMODE…) are deliberately not read: the URL alone says
// where emmctl's data lives, so two shells with different environments cannot reach different
// databases with the same command line.
import { readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { EmmctlError, UsageError } from '../../errors.js';

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresSettings {
  host: string;
  port: number;
  user: string;
  database: string;
  /** The URL as shown in messages and logs: no password, no secret parameter. */
  location: string;
  sslmode: SslMode;
  /** Node TLS options, or false for a plain connection. */
  ssl: false | ConnectionOptions;
  /** Resolved password, or undefined when none was found (the server may not ask for one). */
  password?: string;
  /** Where the password came from, for --debug and the docs' troubleshooting; never the value. */
  passwordSource?: 'url' | 'file' | 'PGPASSWORD' | 'pgpass';
  applicationName: string;
  /** Seconds to wait for a connection (from connect_timeout; default 10). */
  connectTimeoutSeconds: number;
}

const KNOWN_PARAMS = new Set(['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'application_name', 'connect_timeout']);
const SSL_MODES: readonly string[] = ['disable', 'require', 'verify-ca', 'verify-full'];

export function isDatabaseUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text);
}

/**
 * Parses a database URL into connection settings. Throws UsageError for a malformed URL, an
 * unknown parameter or an unsupported sslmode; EmmctlError when a named file cannot be read.
 */
export function parseDatabaseUrl(text: string, env: NodeJS.ProcessEnv = process.env): PostgresSettings {
  if (!isDatabaseUrl(text)) {
    throw new UsageError(`database URL ${redactUrl(text)} must start with postgres:// or postgresql://`, 'for example postgres://emmctl@db.example.com:5432/emmctl?sslmode=verify-full');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`database URL ${redactUrl(text)} is not a valid URL`, 'percent-encode special characters in the user name, password and database name');
  }
  const location = redactUrl(text);
  const unknown = [...new Set(url.searchParams.keys())].filter((k) => !KNOWN_PARAMS.has(k));
  if (unknown.length > 0) {
    const hint = unknown.includes('password')
      ? 'a password goes in the URL as user:password@host, in EMMCTL_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass'
      : `known parameters: ${[...KNOWN_PARAMS].join(', ')}`;
    throw new UsageError(`database URL ${location}: unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}`, hint);
  }
  for (const k of KNOWN_PARAMS) {
    if (url.searchParams.getAll(k).length > 1) throw new UsageError(`database URL ${location}: parameter "${k}" is given more than once`);
  }
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError(`database URL ${location}: the ${what} is not valid percent-encoding`);
    }
  };
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = url.port === '' ? 5432 : Number(url.port);
  const user = url.username ? decode(url.username, 'user name') : userInfo().username;
  const path = url.pathname.replace(/^\//, '');
  if (path.includes('/')) throw new UsageError(`database URL ${location}: the path must be one database name`);
  const database = path ? decode(path, 'database name') : user;

  const sslmode = url.searchParams.get('sslmode') ?? 'disable';
  if (!SSL_MODES.includes(sslmode)) {
    const why = sslmode === 'prefer' || sslmode === 'allow' ? ' (node-postgres cannot fall back between TLS and plain connections as libpq does)' : '';
    throw new UsageError(`database URL ${location}: sslmode=${sslmode} is not supported${why}`, `use one of: ${SSL_MODES.join(', ')}`);
  }
  const ssl = tlsOptions(sslmode as SslMode, url.searchParams, location);

  const timeoutText = url.searchParams.get('connect_timeout');
  let connectTimeoutSeconds = 10;
  if (timeoutText !== null) {
    if (!/^[0-9]{1,6}$/.test(timeoutText) || Number(timeoutText) < 1) throw new UsageError(`database URL ${location}: connect_timeout must be a whole number of seconds, at least 1`);
    connectTimeoutSeconds = Number(timeoutText);
  }

  const settings: PostgresSettings = {
    host,
    port,
    user,
    database,
    location,
    sslmode: sslmode as SslMode,
    ssl,
    applicationName: url.searchParams.get('application_name') ?? 'emmctl',
    connectTimeoutSeconds,
  };
  const found = findPassword(url.password ? decode(url.password, 'password') : undefined, settings, env);
  if (found) {
    settings.password = found.password;
    settings.passwordSource = found.source;
  }
  return settings;
}

function tlsOptions(mode: SslMode, params: URLSearchParams, location: string): false | ConnectionOptions {
  const rootcert = params.get('sslrootcert');
  const cert = params.get('sslcert');
  const key = params.get('sslkey');
  if (mode === 'disable') {
    const given = [rootcert && 'sslrootcert', cert && 'sslcert', key && 'sslkey'].filter(Boolean);
    if (given.length > 0) throw new UsageError(`database URL ${location}: ${given.join(', ')} given but sslmode is disable (the default)`, 'add sslmode=verify-full (or require, verify-ca)');
    return false;
  }
  if ((cert === null) !== (key === null)) throw new UsageError(`database URL ${location}: sslcert and sslkey go together`);
  const options: ConnectionOptions = {};
  // libpq's reading of sslrootcert: with require, a root certificate makes it verify-ca;
  // "system" means the platform's trusted roots (Node's default store).
  const ca = rootcert && rootcert !== 'system' ? readSettingFile(rootcert, 'sslrootcert', location) : undefined;
  if (ca !== undefined) options.ca = ca;
  if (cert !== null && key !== null) {
    options.cert = readSettingFile(cert, 'sslcert', location);
    options.key = readSettingFile(key, 'sslkey', location);
  }
  const verify = mode !== 'require' || ca !== undefined;
  options.rejectUnauthorized = verify;
  // verify-ca checks the chain but not the name; verify-full checks both (Node's default).
  if (mode !== 'verify-full') options.checkServerIdentity = () => undefined;
  return options;
}

function readSettingFile(path: string, what: string, location: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new EmmctlError(`database URL ${location}: cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function findPassword(fromUrl: string | undefined, s: Pick<PostgresSettings, 'host' | 'port' | 'user' | 'database' | 'location'>, env: NodeJS.ProcessEnv): { password: string; source: NonNullable<PostgresSettings['passwordSource']> } | undefined {
  const file = env.EMMCTL_DATABASE_PASSWORD_FILE;
  if (fromUrl !== undefined && fromUrl !== '') {
    if (file) throw new UsageError(`database URL ${s.location} carries a password and EMMCTL_DATABASE_PASSWORD_FILE is set too`, 'give the password one way: remove it from the URL or unset EMMCTL_DATABASE_PASSWORD_FILE');
    return { password: fromUrl, source: 'url' };
  }
  if (file) return { password: readPasswordFile(file), source: 'file' };
  if (env.PGPASSWORD) return { password: env.PGPASSWORD, source: 'PGPASSWORD' };
  const pgpass = env.PGPASSFILE || join(env.HOME || homedir(), '.pgpass');
  const fromPgpass = readPgpass(pgpass, s);
  return fromPgpass === undefined ? undefined : { password: fromPgpass, source: 'pgpass' };
}

function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EmmctlError(`cannot read EMMCTL_DATABASE_PASSWORD_FILE ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // Files written by `echo` or a secrets mount end with one newline that is not part of the password.
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new EmmctlError(`EMMCTL_DATABASE_PASSWORD_FILE ${path} is empty`);
  if (/[\r\n]/.test(password)) throw new EmmctlError(`EMMCTL_DATABASE_PASSWORD_FILE ${path} holds more than one line`, { hint: 'the file holds the password alone' });
  return password;
}

/**
 * The password of the first ~/.pgpass line (hostname:port:database:username:password, `*` for any,
 * `\:` and `\\` escaped) matching these settings. As libpq does, a file that others can read is
 * ignored; a missing or unreadable file means no password.
 */
export function readPgpass(path: string, s: Pick<PostgresSettings, 'host' | 'port' | 'user' | 'database'>): string | undefined {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile() || (process.platform !== 'win32' && (st.mode & 0o077) !== 0)) return undefined;
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const wanted = [s.host, String(s.port), s.database, s.user];
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = splitPgpassLine(line);
    if (fields.length < 5) continue;
    if (wanted.every((w, i) => fields[i] === '*' || fields[i] === w)) return fields.slice(4).join(':');
  }
  return undefined;
}

function splitPgpassLine(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) current += line[++i];
    else if (c === ':' && fields.length < 4) {
      fields.push(current);
      current = '';
    } else current += c;
  }
  fields.push(current);
  return fields;
}

/**
 * A database URL fit for messages and logs: the password and any secret-looking parameter are
 * removed. Works on text that is not a valid URL too (the user may have mistyped it).
 */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '';
    for (const k of [...url.searchParams.keys()]) {
      if (/pass|secret|token|key$/i.test(k) && k !== 'sslkey') url.searchParams.set(k, '(redacted)');
    }
    return url.toString();
  } catch {
    // Not a URL: user:password@ → user@, greedy to the last '@' (a password may itself hold '@'
    // or '/'; hiding too much is the safe side).
    return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:?#]*):.*@/is, '$1@');
  }
}
