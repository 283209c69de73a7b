// `npm start`: the main job on the embedded default backend, nothing to set up.
// Validates the example policy repo, applies it to a local store, lets a simulated fleet
// enroll and check in, and prints the compliance table. Safe to run again: the second
// apply reports no changes and the same simulated devices check in again.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = process.env.EMMCTL_DATA_DIR ?? join(root, '.emmctl-data');
const devices = process.env.QUICKSTART_DEVICES ?? '60';
const env = { ...process.env, EMMCTL_DATA_DIR: dataDir };
// The quick start uses its own store; do not let a configured context redirect it.
delete env.EMMCTL_SERVER;
delete env.EMMCTL_CONTEXT;

const steps = [
  ['Validate the example policy repo', ['validate', 'policies/']],
  ['Apply it to the embedded store', ['apply', 'policies/', '--yes']],
  [`Simulate ${devices} devices enrolling and checking in`, ['simulate', '--devices', devices, '--once', '--seed', '42']],
  ['Device compliance', ['compliance']],
];

process.stderr.write(`emmctl quick start — embedded store in ${dataDir}\n`);
for (const [title, args] of steps) {
  process.stderr.write(`\n$ emmctl ${args.join(' ')}    # ${title}\n`);
  const r = spawnSync(process.execPath, [join(root, 'bin', 'emmctl'), ...args], { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`\nquick start stopped: \`emmctl ${args.join(' ')}\` exited ${r.status}\n`);
    process.exit(r.status ?? 1);
  }
}
process.stderr.write(`
Next: inspect a device       EMMCTL_DATA_DIR=${dataDir} ./bin/emmctl devices list --filter compliance=noncompliant
      see why it fails       EMMCTL_DATA_DIR=${dataDir} ./bin/emmctl devices show <ID>
      lock it                EMMCTL_DATA_DIR=${dataDir} ./bin/emmctl lock <ID> --reason "lost phone"
`);
