// The OpenAPI document as API tooling reads it: Redocly's recommended lint finds nothing, and a
// client generated from it (openapi-typescript) type-checks a real call with the real documents
// of the example policy repo, which the live server then accepts; a wrong document does not compile.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import openapiTS, { astToString } from 'openapi-typescript';
import { loadPolicySet } from '../../src/policy/index.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { call, createToken, killAll, startServerProcess, type ServerProcess } from './helpers.js';

const dir = tempDir('emmctl-openapi-tools-');
let server: ServerProcess;
let admin: string;

beforeAll(async () => {
  admin = await createToken(join(dir.path, 'data'), 'admin');
  server = await startServerProcess(join(dir.path, 'data'));
});
afterAll(async () => {
  if (server) await server.stop();
  killAll();
  dir.cleanup();
});

describe('OpenAPI lint', () => {
  it('is clean under Redocly\'s recommended rules (no errors, no warnings)', async () => {
    const doc = (await call(server.url, 'GET', '/v1/openapi.json')).body;
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi.json', config });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? ''}`)).toEqual([]);
  });
});

describe('a generated TypeScript client', () => {
  // The project's own TypeScript, strict, with nothing but the generated file and the call.
  const tsc = (files: string[]) => {
    const config = join(dir.path, 'tsconfig.json');
    writeFileSync(config, JSON.stringify({ compilerOptions: { noEmit: true, strict: true, target: 'es2022', lib: ['es2022'], module: 'nodenext', moduleResolution: 'nodenext', types: [] }, files }));
    return promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', config], { cwd: dir.path })
      .then(() => ({ code: 0, out: '' }), (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }));
  };

  const client = (documents: string) => `import type { components, paths } from './api.js';
declare const fetch: (url: string, init: { method: string; headers: Record<string, string>; body: string }) => Promise<{ status: number; json(): Promise<unknown> }>;
type ApplyBody = paths['/v1/resources/apply']['post']['requestBody']['content']['application/json'];
type Applied = paths['/v1/resources/apply']['post']['responses']['200']['content']['application/json'];
const documents: components['schemas']['ResourceDocument'][] = ${documents};
export async function applyAll(base: string, token: string): Promise<Applied> {
  const body: ApplyBody = { changes: documents.map((document) => ({ op: 'create' as const, kind: document.kind, name: document.metadata.name, document })) };
  const res = await fetch(base + '/v1/resources/apply', { method: 'POST', headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as Applied;
}
`;

  it('types ResourceDocument from the policy schema: the example policies type-check, are applied by the server, and a wrong one fails', async () => {
    const doc = (await call(server.url, 'GET', '/v1/openapi.json')).body;
    // defaultNonNullable off: a field with a default (a Policy's priority) may be left out of a request.
    writeFileSync(join(dir.path, 'api.d.ts'), astToString(await openapiTS(doc, { defaultNonNullable: false })));

    const loaded = await loadPolicySet([join(ROOT, 'policies')], { resolveSecrets: true, env: { CORP_WIFI_PSK: 'a-wifi-secret' }, cwd: ROOT });
    expect(loaded.ok).toBe(true);
    const documents = loaded.documents.map((d) => d.resolved ?? d.document);
    expect(documents.map((d) => d.kind)).toEqual(expect.arrayContaining(['Group', 'Policy', 'CompliancePolicy', 'EnrollmentProfile']));
    writeFileSync(join(dir.path, 'good.ts'), client(JSON.stringify(documents, null, 2)));
    const wrong = { apiVersion: 'emmctl/v1', kind: 'CompliancePolicy', metadata: { name: 'x' }, spec: { assign: ['all'], rules: { encryption: 'maybe' } } };
    writeFileSync(join(dir.path, 'wrong.ts'), client(JSON.stringify([wrong])));
    // One compiler run for both files (it is the slow part): errors only in wrong.ts, about "maybe".
    const checked = await tsc(['good.ts', 'wrong.ts']);
    expect(checked.code).not.toBe(0);
    const errors = checked.out.split('\n').filter((l) => /^\S+\.ts\(\d+,\d+\): error/.test(l));
    expect(errors.filter((l) => !l.startsWith('wrong.ts('))).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
    expect(checked.out).toContain('"maybe"');

    // The call the client makes, with the same documents: the server takes them.
    const r = await call(server.url, 'POST', '/v1/resources/apply', {
      token: admin,
      body: { changes: documents.map((document) => ({ op: 'create', kind: document.kind, name: document.metadata.name, document })) },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.applied).toHaveLength(documents.length);

  });
});
