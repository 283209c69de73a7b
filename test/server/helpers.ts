// A real `emmctl server` child process on 127.0.0.1:0 and small fetch helpers for its API.
import { request, type ClientRequest } from 'node:http';

export { createApiToken as createToken, killAll, startServerProcess, type ServerProcess } from '../helpers/server.js';

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

export interface CallOptions {
  token?: string;
  device?: string;
  body?: unknown;
  /** Raw body text, sent as is. */
  raw?: string;
  headers?: Record<string, string>;
}

export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.device) headers.authorization = `Device ${opts.device}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export const PROFILE = {
  apiVersion: 'emmctl/v1',
  kind: 'EnrollmentProfile',
  metadata: { name: 'corp-phones' },
  spec: { platforms: ['android', 'ios'], ownership: 'corporate' },
};

export const GROUP = {
  apiVersion: 'emmctl/v1',
  kind: 'Group',
  metadata: { name: 'all-android' },
  spec: { match: { platforms: ['android'] } },
};

/** Applies an enrollment profile (and a group) so devices can enroll. */
export async function seedResources(base: string, adminOrOperator: string): Promise<void> {
  const r = await call(base, 'POST', '/v1/resources/apply', {
    token: adminOrOperator,
    body: {
      changes: [
        { op: 'create', kind: 'Group', name: GROUP.metadata.name, document: GROUP },
        { op: 'create', kind: 'EnrollmentProfile', name: PROFILE.metadata.name, document: PROFILE },
      ],
    },
  });
  if (r.status !== 200) throw new Error(`seeding failed: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function enrollmentToken(base: string, token: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const r = await call(base, 'POST', '/v1/enrollment-tokens', { token, body: { profile: PROFILE.metadata.name, ...extra } });
  if (r.status !== 200) throw new Error(`enrollment token failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.token.id, secret: r.body.secret };
}

let serial = 0;
export function enrollBody(secret: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  serial += 1;
  return { token: secret, platform: 'android', serial: `SN-${process.pid}-${serial}`, osVersion: '14', model: 'Pixel 8', owner: 'ana@example.com', ...overrides };
}

export async function enroll(base: string, secret: string, overrides: Record<string, unknown> = {}): Promise<{ deviceId: string; credential: string }> {
  const r = await call(base, 'POST', '/v1/agent/enroll', { body: enrollBody(secret, overrides) });
  if (r.status !== 200) throw new Error(`enroll failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export const POSTURE = {
  osVersion: '14',
  patchLevel: '2026-10-05',
  model: 'Pixel 8',
  encrypted: true,
  passcodeSet: true,
  compromised: false,
  installedApps: ['com.example.mail'],
};

export function checkIn(base: string, credential: string, posture: Record<string, unknown> = POSTURE): Promise<ApiResponse> {
  return call(base, 'POST', '/v1/agent/checkin', { device: credential, body: { posture } });
}

/**
 * A POST /v1/devices/preregister for `serial` that is in flight on return: with Expect: 100-continue
 * the server confirms it has the request before the body goes out, so there is no guessing about
 * timing. The body is not sent; `req.end(body)` sends it.
 */
export async function inFlightPreregister(base: string, admin: string, serial: string): Promise<{ req: ClientRequest; body: string }> {
  const { hostname, port } = new URL(base);
  const body = JSON.stringify({ devices: [{ serial, platform: 'android' }] });
  const req = request({
    host: hostname,
    port: Number(port),
    method: 'POST',
    path: '/v1/devices/preregister',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
  });
  await new Promise<void>((resolve, reject) => {
    req.once('continue', resolve);
    req.once('error', reject);
  });
  return { req, body };
}
