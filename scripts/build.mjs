// Bundles src/ into dist/ with esbuild. Code splitting turns every dynamic import() into its
// own chunk, so `emmctl --help` loads only the entry chunk (commander + command definitions)
// and heavy modules (ajv, yaml, axios, better-sqlite3, prompts) load with the commands that use them.
// dist/meta.json records which sources went into which chunk; test/startup.test.ts reads it.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
rmSync(`${root}dist`, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir: 'dist',
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
  define: { EMMCTL_VERSION: JSON.stringify(process.env.npm_package_version ?? '0.0.0-dev') },
});
writeFileSync(`${root}dist/meta.json`, JSON.stringify(result.metafile));
