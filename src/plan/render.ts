// A plan as people read it (terraform-like). Secrets are masked here, whatever the caller passes.
import type { Colors } from '../output/color.js';
import { sanitize } from '../output/sanitize.js';
import type { FieldChange } from './diff.js';
import { maskValue } from './sensitive.js';
import { summaryLine, type PlannedChange, type PlanSummary } from './index.js';

export interface RenderOptions {
  /** Show every field of created and deleted resources, not only their names. */
  verbose?: boolean;
  /** `Kind/name` → a note shown after the change's name, e.g. "needs the admin role". */
  notes?: ReadonlyMap<string, string>;
}

// Keys and values come from policy files and the backend: shown inert (JSON escapes C0 but not
// C1, DEL or bidi controls).
export function formatValue(value: unknown): string {
  if (value === undefined) return '(none)';
  return sanitize(JSON.stringify(value));
}

function fieldLine(f: FieldChange, c: Colors): string {
  const path = sanitize(f.path);
  const before = 'before' in f ? maskValue(f.before, f.path) : undefined;
  const after = 'after' in f ? maskValue(f.after, f.path) : undefined;
  if (!('before' in f)) return `  ${c.green('+')} ${path}: ${formatValue(after)}`;
  if (!('after' in f)) return `  ${c.red('-')} ${path}: ${formatValue(before)}`;
  return `  ${c.yellow('~')} ${path}: ${formatValue(before)} → ${formatValue(after)}`;
}

export function renderChange(change: PlannedChange, c: Colors, opts: RenderOptions = {}): string[] {
  const note = opts.notes?.get(`${change.kind}/${change.name}`);
  const id = `${sanitize(`${change.kind}/${change.name}`)}${note ? `  ${c.red(`(${note})`)}` : ''}`;
  switch (change.op) {
    case 'create':
      return [`${c.green('+ create')} ${id}`, ...(opts.verbose ? change.fields.map((f) => fieldLine(f, c)) : [])];
    case 'update':
      return [`${c.yellow('~ update')} ${id}`, ...change.fields.map((f) => fieldLine(f, c))];
    case 'delete':
      return [`${c.red('- delete')} ${id}`, ...(opts.verbose ? change.fields.map((f) => fieldLine(f, c)) : [])];
  }
}

export function renderPlan(plan: { changes: PlannedChange[]; summary: PlanSummary }, c: Colors, opts: RenderOptions = {}): string {
  if (plan.changes.length === 0) return 'No changes. The backend matches the policy files.\n';
  const lines = plan.changes.flatMap((change) => renderChange(change, c, opts));
  return `${lines.join('\n')}\n\n${c.bold(`Plan: ${summaryLine(plan.summary)}.`)}\n`;
}
