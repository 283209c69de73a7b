// Bundles src/ into dist/ with esbuild. Code splitting turns every dynamic import() into its
// own chunk, so `emmctl --help` loads only the entry chunk (commander + command definitions)
// and heavy modules (ajv, yaml, axios, better-sqlite3, prompts) load with the commands that use them.
// dist/meta.json records which sources went into which chunk; test/startup.test.ts reads it.
import { build } from 'esbuild';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { generateValidatorCode } from './gen-validator.mjs';

const root = new URL('..', import.meta.url).pathname;
// Build beside dist/ and swap at the end, so a test run that is spawning the CLI
// while someone rebuilds sees the old or the new build, never half of one.
const outdir = `dist.tmp-${process.pid}`;

// `emmctl:schema-validator`: the schema compiled to standalone code at build time (see
// scripts/gen-validator.mjs); src/policy/schema.ts falls back to compiling at run time when
// it runs unbundled (unit tests).
const schemaValidator = {
  name: 'emmctl-schema-validator',
  setup(b) {
    b.onResolve({ filter: /^emmctl:schema-validator$/ }, () => ({ path: 'schema-validator', namespace: 'emmctl-generated' }));
    b.onLoad({ filter: /.*/, namespace: 'emmctl-generated' }, () => ({ contents: generateValidatorCode(), loader: 'js', resolveDir: root }));
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  chunkNames: 'chunks/[name]-[hash]',
  // Native addon: must be loaded from node_modules at run time.
  external: ['better-sqlite3'],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: { js: "import { createRequire as __emmctlCreateRequire } from 'node:module'; const require = __emmctlCreateRequire(import.meta.url);" },
  plugins: [schemaValidator],
  define: { EMMCTL_VERSION: JSON.stringify(process.env.npm_package_version ?? '0.0.0-dev') },
});
writeFileSync(`${root}${outdir}/meta.json`, JSON.stringify(result.metafile).replaceAll(`${outdir}/`, 'dist/'));
rmSync(`${root}dist`, { recursive: true, force: true });
renameSync(`${root}${outdir}`, `${root}dist`);
