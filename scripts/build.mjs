// Bundles src/ into dist/ with esbuild. Code splitting turns every dynamic import() into its
// own chunk, so `emmctl --help` loads only the entry chunk (commander + command definitions)
// and heavy modules (ajv, yaml, axios, better-sqlite3, prompts) load with the commands that use them.
// dist/meta.json records which sources went into which chunk; test/startup.test.ts reads it.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { generateValidatorCode } from './gen-validator.mjs';

const root = new URL('..', import.meta.url).pathname;
// Build beside dist/ and publish at the end (see publish()), so a test run that is spawning
// the CLI while someone rebuilds sees the old or the new build, never half of one.
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
  // Less to parse at every start-up (the entry chunk went from 245 to 155 KB); identifiers are
  // kept so --debug stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  logLevel: 'warning',
  chunkNames: 'chunks/[name]-[hash]',
  // Native addon, and pg (whose optional pg-native a bundle cannot resolve): loaded from node_modules at run time.
  external: ['better-sqlite3', 'pg'],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: { js: "import { createRequire as __emmctlCreateRequire } from 'node:module'; const require = __emmctlCreateRequire(import.meta.url);" },
  plugins: [schemaValidator],
  // package.json's version however the build is started (npm run build or node scripts/build.mjs).
  define: { EMMCTL_VERSION: JSON.stringify(JSON.parse(readFileSync(`${root}package.json`, 'utf8')).version) },
});
writeFileSync(`${root}${outdir}/meta.json`, JSON.stringify(result.metafile).replaceAll(`${outdir}/`, 'dist/'));
publish(`${root}${outdir}`, `${root}dist`);

// Moves the new build into dist/ without ever removing a chunk that a running emmctl may
// still import lazily: chunk names carry a content hash, so new chunks land beside the old
// ones, and the entry file is renamed into place last (rename is atomic). Chunks that no
// build has referenced for an hour are pruned.
function publish(from, to) {
  mkdirSync(`${to}/chunks`, { recursive: true });
  for (const name of readdirSync(`${from}/chunks`)) renameSync(`${from}/chunks/${name}`, `${to}/chunks/${name}`);
  const current = new Set(readdirSync(`${to}/chunks`).filter((n) => existsSync(`${to}/chunks/${n}`)));
  const live = new Set(Object.keys(result.metafile.outputs).filter((o) => o.startsWith(`${outdir}/chunks/`)).map((o) => o.slice(`${outdir}/chunks/`.length)));
  const hourAgo = Date.now() - 3600_000;
  for (const name of current) {
    if (live.has(name)) utimesSync(`${to}/chunks/${name}`, new Date(), new Date());
    else if (statSync(`${to}/chunks/${name}`).mtimeMs < hourAgo) rmSync(`${to}/chunks/${name}`, { force: true });
  }
  for (const name of ['meta.json', 'cli.js.map', 'cli.js']) renameSync(`${from}/${name}`, `${to}/${name}`);
  rmSync(from, { recursive: true, force: true });
}
