// Raw HTTP to the fake Graph / login endpoints from a test (http or https with the fake's own CA).
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { FakeGraph } from './fake-graph.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The parsed JSON body, or undefined when there was none. */
  json: any;
}

export function rawRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; caFile?: string } = {}): Promise<RawResponse> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      { method: opts.method ?? 'GET', headers: opts.headers, ...(u.protocol === 'https:' && opts.caFile ? { ca: readFileSync(opts.caFile) } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
          let json: unknown;
          if (text) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** A Graph call with a token the fake issued: `path` is after the version (`/groups`) or a full URL (a nextLink). */
export function graph(fake: FakeGraph, method: string, path: string, body?: unknown, opts: { version?: 'v1.0' | 'beta'; token?: string | null; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const url = /^https?:/.test(path) ? path : `${fake.graphUrl}/${opts.version ?? 'v1.0'}${path}`;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== null) headers.Authorization = `Bearer ${opts.token ?? fake.issueToken()}`;
  let text: string | undefined;
  if (body !== undefined) {
    text = typeof body === 'string' ? body : JSON.stringify(body);
    headers['Content-Type'] ??= 'application/json';
  }
  return rawRequest(url, { method, headers, body: text, caFile: fake.caFile });
}

/** Follows @odata.nextLink to the end; returns every item and the number of pages. */
export async function listAll(fake: FakeGraph, path: string, opts: { version?: 'v1.0' | 'beta' } = {}): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let pages = 0;
  let next: string | undefined = path;
  const token = fake.issueToken();
  while (next) {
    const r = await graph(fake, 'GET', next, undefined, { ...opts, token });
    if (r.status !== 200) throw new Error(`GET ${next}: ${r.status} ${r.text}`);
    pages++;
    items.push(...(r.json.value as unknown[]));
    next = r.json['@odata.nextLink'] as string | undefined;
  }
  return { items, pages };
}
