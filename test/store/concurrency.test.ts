// Two handles on one store, as `emmctl server` and a CLI command share a data dir: caches see
// the other's changes, and a writer waits for the other's transaction instead of failing.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FleetService } from '../../src/service/fleet-service.js';
import { tempDir } from '../helpers/cli.js';
// @ts-expect-error plain ESM helper shared with the benchmarks
import { bundleStore } from './bundle-store.mjs';
import { ADMIN, createAll, docs, enrollDevice, posture } from './fixtures.js';

const dirs: Array<{ cleanup(): void }> = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

describe('two handles on one store', () => {
  it('a check-in sees policy changes applied through another handle', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const server = await FleetService.open(dir.path);
    const cli = await FleetService.open(dir.path);
    try {
      await cli.applyChanges(createAll(), ADMIN);
      const d = await enrollDevice(server);
      expect(d.checkIn.configuration.settings).toMatchObject({ camera: 'disabled' });
      const policy = docs().find((x) => x.kind === 'Policy')!;
      const changed = { ...policy, spec: { ...policy.spec, settings: { camera: 'enabled' } } } as typeof policy;
      await cli.applyChanges([{ op: 'update', kind: 'Policy', name: policy.metadata.name, document: changed, expectedVersion: 1 }], ADMIN);
      const after = await server.checkIn(d.deviceId, { posture: posture() });
      expect(after.configuration.settings).toEqual({ camera: 'enabled' });
      expect(after.configuration.version).not.toBe(d.checkIn.configuration.version);
    } finally {
      await server.close();
      await cli.close();
    }
  });

  it('a writer waits for another process\'s long transaction, then both changes are kept', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const bundleUrl = await bundleStore(dir.path);
    const dataDir = join(dir.path, 'data');
    const store = await FleetService.open(dataDir);
    await store.applyChanges(createAll(), ADMIN);
    const d = await enrollDevice(store);
    const script = join(dir.path, 'writer.mjs');
    writeFileSync(script, `
import { writeSync } from 'node:fs';
const { FleetService } = await import(${JSON.stringify(bundleUrl)});
const store = await FleetService.open(${JSON.stringify(dataDir)});
const changes = [];
for (let i = 0; i < 15000; i++) {
  const name = 'bulk-' + i;
  changes.push({ op: 'create', kind: 'Group', name, document: { apiVersion: 'emmctl/v1', kind: 'Group', metadata: { name, description: 'x'.repeat(2000) }, spec: { match: { platforms: ['ios'] } } } });
}
writeSync(1, 'begin\\n');
await store.applyChanges(changes, { name: 'local:writer', source: 'local' });
writeSync(1, 'committed\\n');
await store.close();
`);
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve) => child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('begin')) resolve();
    }));
    // The child now holds (or is about to take) the write lock for a while; this must wait, not fail.
    await new Promise((r) => setTimeout(r, 50));
    const r = await store.enqueueCommands({ deviceIds: [d.deviceId], type: 'lock', idempotencyKey: 'during' }, ADMIN);
    expect(r.results[0]!.outcome).toBe('queued');
    await new Promise((resolve) => child.on('close', resolve));
    expect(out).toBe('begin\ncommitted\n');
    expect(await store.listResources('Group')).toHaveLength(15002);
    expect((await store.listCommands({})).items).toHaveLength(1);
    await store.close();
  });
});
