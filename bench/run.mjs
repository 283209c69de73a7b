// `npm run bench`: runs every bench/*.bench.mjs in its own process, one after another,
// so one benchmark's heap and timers never disturb the next.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { ROOT } from './lib.mjs';

const only = process.argv.slice(2);
const files = readdirSync(new URL('.', import.meta.url)).filter((f) => f.endsWith('.bench.mjs')).sort()
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
console.log(`emmctl benchmarks on node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file}`);
  const r = spawnSync(process.execPath, ['--expose-gc', `bench/${file}`], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
