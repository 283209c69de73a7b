// Files generated from the schema must match it: the types, the reference docs; and the rule
// ids the docs list must be the ones the checks emit.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

describe('generated from the schema', () => {
  it('src/model/policy.generated.ts and docs/policy-reference.md are fresh (npm run generate)', () => {
    const r = spawnSync(process.execPath, ['scripts/gen-types.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('every field of the schema has a description', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema', 'emmctl.schema.json'), 'utf8'));
    const missing: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      const props = node.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [k, v] of Object.entries(props ?? {})) {
        const ref = typeof v.$ref === 'string' ? schema.$defs[(v.$ref as string).split('/').pop()!] : undefined;
        if (!v.description && !ref?.description && !path.includes('/if')) missing.push(`${path}/${k}`);
      }
      for (const [k, v] of Object.entries(node)) if (v && typeof v === 'object') walk(v as Record<string, unknown>, `${path}/${k}`);
    };
    walk(schema, '#');
    expect(missing).toEqual([]);
  });

  it('the reference lists exactly the rule ids the checks emit', async () => {
    const { CHECKS } = (await import(join(ROOT, 'scripts', 'gen-docs.mjs'))) as { CHECKS: Array<[string, string, string]> };
    const { CHECK_RULES } = await import('../../src/policy/checks.js');
    expect(CHECKS.map(([id]) => id).sort()).toEqual([...CHECK_RULES].sort());
  });
});
