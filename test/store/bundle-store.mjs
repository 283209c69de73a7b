// Bundles the store (TypeScript) into one ESM file that a plain `node` child process can import:
// used by the kill -9 tests (the child runs a big transaction and is killed mid-way) and by
// bench/store.bench.mjs. better-sqlite3 stays external (native addon), resolved to its absolute
// path so the bundle works from any directory.
import { build } from 'esbuild';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Returns the file URL of a bundle exporting FleetService, openEmbeddedBackend and openPostgres. */
export async function bundleStore(outDir = mkdtempSync(join(tmpdir(), 'emmctl-store-bundle-'))) {
  const req = createRequire(join(root, 'package.json'));
  const sqlite = req.resolve('better-sqlite3');
  // pg stays external too (it loads optional native parts), resolved the same way.
  const pg = req.resolve('pg');
  const outfile = join(outDir, 'store.mjs');
  await build({
    absWorkingDir: root,
    stdin: {
      contents: "export { FleetService } from './src/service/fleet-service.ts'; export { openEmbeddedBackend } from './src/backends/embedded/index.ts'; export { openPostgres } from './src/store/postgres/index.ts';",
      resolveDir: root,
      loader: 'ts',
    },
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    plugins: [{
      name: 'sqlite-absolute',
      setup(b) {
        b.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: pathToFileURL(sqlite).href, external: true }));
        b.onResolve({ filter: /^pg$/ }, () => ({ path: pathToFileURL(pg).href, external: true }));
      },
    }],
  });
  return pathToFileURL(outfile).href;
}
