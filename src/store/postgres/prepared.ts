// A named prepared statement run on a node-postgres client through pg's Submittable interface
// (the one pg-cursor and pg-query-stream use) instead of pg.Query, because on the check-in path
// pg.Query costs more CPU than the statement's work in PostgreSQL. What this saves, per statement:
//   - the Describe round of the extended protocol: a statement's result columns cannot change
//     while it stays prepared on a connection (PostgreSQL refuses with "cached plan must not change
//     result type" instead), so they are described once per connection and statement, and the
//     RowDescription (a few dozen columns for a device row) is neither built by PostgreSQL nor
//     parsed here again;
//   - the messages (Parse the first time, Bind, Describe the first time, Execute, Sync) encoded
//     into one buffer and written once, rather than one write per message under cork;
//   - pg.Query's per-call copying of its config, its EventEmitter and its Result set-up.
// Only statements whose parameters are all strings, numbers or null come here (see PgSql.query);
// anything pg would convert (dates, objects, buffers) still goes through pg.Query.
import type { ClientBase } from 'pg';

/** The parts of pg's Connection this uses (lib/connection.js): its socket and its prepared-statement books. */
interface WireConnection {
  stream: { writable: boolean; write(chunk: Buffer): boolean };
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
  sendCopyFail(message: string): void;
}

interface Field {
  name: string;
  dataTypeID: number;
  format?: string;
}

/** A statement's result columns, as described on one connection. */
interface Described {
  names: string[];
  parsers: Array<(text: string) => unknown>;
}

/** Per connection (its lifetime is the client's), the description of each statement run on it. */
const descriptions = new WeakMap<object, Map<string, Described>>();

export interface PreparedResult<T> {
  rows: T[];
  rowCount: number;
}

/** Primitive parameters only: they are bound as pg would bind them (String(n) for a number). */
export function plainParams(values: readonly unknown[]): boolean {
  for (const v of values) if (v !== null && v !== undefined && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') return false;
  return true;
}

/** Runs the named statement `name` (text `text`, placeholders $1…) with `values` on `client`. */
export function runPrepared<T>(client: ClientBase, name: string, text: string, values: readonly unknown[]): Promise<PreparedResult<T>> {
  return new Promise((resolve, reject) => {
    (client as unknown as { query(q: Submittable): void }).query(new Submittable(client, name, text, values, resolve as (r: PreparedResult<unknown>) => void, reject));
  });
}

class Submittable {
  /** Read by pg's client (a ParseComplete marks `name` parsed with `text`). */
  readonly name: string;
  readonly text: string;
  private described?: Described;
  /** The description arriving with this execution, when it asked for one. */
  private describing?: Map<string, Described>;
  private readonly rows: Record<string, unknown>[] = [];
  private rowCount = 0;
  private failed?: Error;
  private settled = false;

  constructor(
    private readonly client: ClientBase,
    name: string,
    text: string,
    private readonly values: readonly unknown[],
    private readonly resolve: (r: PreparedResult<unknown>) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.name = name;
    this.text = text;
  }

  /** Called by pg's client when the connection is free; an Error returned is handed to handleError. */
  submit(connection: WireConnection): Error | null {
    const parsed = connection.parsedStatements[this.name] ?? connection.submittedNamedStatements[this.name];
    if (parsed !== undefined && parsed !== this.text) return new Error(`prepared statement ${this.name} is already prepared with another text on this connection`);
    let known = descriptions.get(connection);
    if (!known) descriptions.set(connection, (known = new Map()));
    // A statement parsed again (its first run on this connection) is described again.
    this.described = parsed === undefined ? undefined : known.get(this.name);
    if (!this.described) this.describing = known;
    let message: Buffer;
    try {
      message = encode(parsed === undefined ? this.text : undefined, this.name, this.values, this.described === undefined);
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
    if (parsed === undefined) connection.submittedNamedStatements[this.name] = this.text;
    if (connection.stream.writable) connection.stream.write(message);
    return null;
  }

  handleRowDescription(msg: { fields: Field[] }): void {
    const described: Described = { names: msg.fields.map((f) => f.name), parsers: msg.fields.map((f) => this.client.getTypeParser(f.dataTypeID, (f.format ?? 'text') as 'text')) };
    this.described = described;
    this.describing?.set(this.name, described);
    this.describing = undefined;
  }

  handleDataRow(msg: { fields: Array<string | null> }): void {
    if (this.failed) return;
    const d = this.described;
    if (!d || d.names.length !== msg.fields.length) {
      this.failed = new Error(`statement ${this.name} returned a row that does not match its description`);
      return;
    }
    const row: Record<string, unknown> = {};
    try {
      for (let i = 0; i < d.names.length; i++) {
        const v = msg.fields[i]!;
        row[d.names[i]!] = v === null ? null : d.parsers[i]!(v);
      }
    } catch (e) {
      // A value the type parser refuses (an int8 past 2^53): the statement fails with it once it is done.
      this.failed = e instanceof Error ? e : new Error(String(e));
      return;
    }
    this.rows.push(row);
  }

  handleCommandComplete(msg: { text: string }): void {
    // The command tag: "UPDATE 3", "SELECT 1", "INSERT 0 1" (oid, then rows): the rows are its last number.
    const space = msg.text.lastIndexOf(' ');
    const n = space < 0 ? NaN : Number(msg.text.slice(space + 1));
    this.rowCount = Number.isInteger(n) ? n : 0;
  }

  handleReadyForQuery(): void {
    // Described and answered with NoData (no result columns): nothing to parse, ever.
    if (this.describing) {
      this.describing.set(this.name, { names: [], parsers: [] });
      this.describing = undefined;
    }
    if (this.failed) return this.handleError(this.failed);
    if (this.settled) return;
    this.settled = true;
    this.resolve({ rows: this.rows, rowCount: this.rowCount });
  }

  handleError(error: unknown): void {
    this.describing = undefined;
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }

  handleEmptyQuery(): void {}

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: WireConnection): void {
    connection.sendCopyFail('COPY is not run through prepared statements');
  }

  handleCopyData(): void {}
}

const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);
const EXECUTE = Buffer.from([0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0]);
const DESCRIBE_PORTAL = Buffer.from([0x44, 0, 0, 0, 6, 0x50, 0]);

/**
 * The extended-protocol messages of one execution of a named statement, in one buffer: Parse
 * (when `text` is given), Bind (unnamed portal, every parameter and column as text), Describe
 * of the portal (when `describe`), Execute (all rows), Sync.
 */
function encode(text: string | undefined, name: string, values: readonly unknown[], describe: boolean): Buffer {
  const params: Array<string | null> = values.map((v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : String(v)));
  const nameBytes = Buffer.byteLength(name);
  let size = 0;
  const parseSize = text === undefined ? 0 : 1 + 4 + nameBytes + 1 + Buffer.byteLength(text) + 1 + 2;
  size += parseSize;
  // 'B', length, portal "" , statement name, 0 parameter format codes (all text), count, values, 0 result format codes.
  let bindSize = 1 + 4 + 1 + nameBytes + 1 + 2 + 2 + 2;
  const lengths = params.map((p) => (p === null ? -1 : Buffer.byteLength(p)));
  for (const l of lengths) bindSize += 4 + Math.max(l, 0);
  size += bindSize + (describe ? DESCRIBE_PORTAL.length : 0) + EXECUTE.length + SYNC.length;
  if (params.length > 0xffff) throw new RangeError(`a statement takes at most 65535 parameters, not ${params.length}`);
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  if (text !== undefined) {
    buf[o++] = 0x50;
    o = buf.writeInt32BE(parseSize - 1, o);
    o += buf.write(name, o);
    buf[o++] = 0;
    o += buf.write(text, o);
    buf[o++] = 0;
    o = buf.writeInt16BE(0, o);
  }
  buf[o++] = 0x42;
  o = buf.writeInt32BE(bindSize - 1, o);
  buf[o++] = 0;
  o += buf.write(name, o);
  buf[o++] = 0;
  o = buf.writeInt16BE(0, o);
  o = buf.writeInt16BE(params.length, o);
  for (let i = 0; i < params.length; i++) {
    o = buf.writeInt32BE(lengths[i]!, o);
    if (lengths[i]! > 0) o += buf.write(params[i]!, o);
  }
  o = buf.writeInt16BE(0, o);
  if (describe) o += DESCRIBE_PORTAL.copy(buf, o);
  o += EXECUTE.copy(buf, o);
  o += SYNC.copy(buf, o);
  if (o !== size) throw new Error(`prepared statement ${name}: encoded ${o} bytes, expected ${size}`);
  return buf;
}
