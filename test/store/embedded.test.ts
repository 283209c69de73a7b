// The embedded driver as openBackend builds it: a data dir and nothing else.
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backends/index.js';
import { tempDir } from '../helpers/cli.js';
import { createAll } from './fixtures.js';

describe('embedded backend', () => {
  it('audits as local:<os user> from source local, and closes the store', async () => {
    const dir = tempDir();
    try {
      const backend = await openBackend({ kind: 'embedded', dataDir: join(dir.path, 'nested', 'data') });
      expect(backend.kind).toBe('embedded');
      expect(backend.location).toBe(join(dir.path, 'nested', 'data'));
      await backend.applyChanges(createAll());
      const [first] = (await backend.listAudit({ limit: 1 })).items;
      expect(first).toMatchObject({ actor: `local:${userInfo().username}`, source: 'local', action: 'apply' });
      await backend.close();
      await expect(backend.listResources()).rejects.toThrow(/not open/);
    } finally {
      dir.cleanup();
    }
  });

  it('rejects bad requests as BackendError with a hint', async () => {
    const dir = tempDir();
    try {
      const backend = await openBackend({ kind: 'embedded', dataDir: dir.path });
      await expect(backend.listDevices({ sort: 'nope' })).rejects.toMatchObject({ code: 'invalid', hint: expect.stringMatching(/name, platform, owner/) });
      await expect(backend.enqueueCommands({ deviceIds: ['d'], type: 'explode' as never, idempotencyKey: 'k' })).rejects.toMatchObject({ code: 'invalid', message: 'unknown command type "explode"' });
      await backend.close();
    } finally {
      dir.cleanup();
    }
  });
});
