// validate's output formats. Text groups problems per file for people; json is the stable
// machine format; github emits workflow commands that annotate the pull request's diff.
import type { Colors } from '../output/color.js';
import { sanitize } from '../output/sanitize.js';
import type { Problem } from './types.js';

export interface Summary {
  files: number;
  documents: number;
}

export function summaryLine(problems: readonly Problem[], s: Summary): string {
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.length - errors;
  const filesWithErrors = new Set(problems.filter((p) => p.severity === 'error').map((p) => p.file)).size;
  const scope = `${s.documents} document${s.documents === 1 ? '' : 's'} in ${s.files} file${s.files === 1 ? '' : 's'}`;
  const warn = warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : '';
  if (!errors) return `${scope} valid${warn}`;
  return `${errors} error${errors === 1 ? '' : 's'}${warn} in ${filesWithErrors} file${filesWithErrors === 1 ? '' : 's'} (${scope} checked)`;
}

// File names and messages (which quote YAML keys and values) are shown inert: text and github
// output are read by people and by the Actions runner, json stays exact.
const where = (p: Problem) => sanitize(p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file);

/** `file:line:col: error: message`, one block per file, a blank line between files. */
export function formatProblemsText(problems: readonly Problem[], c: Colors): string {
  let out = '';
  let current: string | undefined;
  for (const p of problems) {
    if (current !== undefined && p.file !== current) out += '\n';
    current = p.file;
    const sev = p.severity === 'error' ? c.red('error:') : c.yellow('warning:');
    out += `${c.bold(where(p))}: ${sev} ${sanitize(p.message)}${p.rule ? c.dim(` [${sanitize(p.rule)}]`) : ''}\n`;
  }
  return out;
}

/**
 * `{"valid": bool, "summary": {...}, "problems": [{file, line, column, path, message, rule, severity}]}`.
 * Field names are a stable interface for scripts.
 */
export function formatProblemsJson(problems: readonly Problem[], s: Summary): string {
  const errors = problems.filter((p) => p.severity === 'error').length;
  return `${JSON.stringify({
    valid: errors === 0,
    summary: { files: s.files, documents: s.documents, errors, warnings: problems.length - errors },
    problems: problems.map((p) => ({ file: p.file, line: p.line, column: p.column, path: p.path, message: p.message, rule: p.rule, severity: p.severity })),
  }, null, 2)}\n`;
}

// Workflow command values, GitHub's rules: %, CR and LF escaped in the message; also , and : in
// properties. So an annotation is always one line and starts with emmctl's own `::error`: a file
// name or message holding a newline, `::` or `%0A` stays data. The log shows ANSI escapes, so
// control characters are made visible first (sanitize escapes CR and LF as \r, \n too).
const escData = (s: string) => sanitize(s).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escProp = (s: string) => escData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

export function formatProblemsGithub(problems: readonly Problem[]): string {
  return problems
    .map((p) => {
      const props = [`file=${escProp(p.file)}`];
      if (p.line > 0) props.push(`line=${p.line}`, `col=${p.column}`);
      props.push(`title=${escProp(`emmctl ${p.rule}`)}`);
      return `::${p.severity === 'error' ? 'error' : 'warning'} ${props.join(',')}::${escData(p.message)}\n`;
    })
    .join('');
}
