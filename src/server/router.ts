// A tiny router: route definitions as data (the OpenAPI test walks the same table), path
// templates like /v1/commands/{id}, and the request context every handler gets.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BackendError, type BackendErrorCode } from '../errors.js';
import type { Actor, ApiRole, ApiTokenInfo } from '../model/access.js';
import type { DeviceSession, ServerStore } from './store.js';
import type { AndroidChannel } from '../service/android-channel.js';

export type Method = 'GET' | 'POST';

/** Who may call a route: nobody in particular, a device credential, or an API token of at least this role. */
export type RouteAuth = 'none' | 'device' | ApiRole;

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  /** The client address, recorded as the audit source. */
  ip: string;
  store: ServerStore;
  /** How many notification channels (webhooks) this server delivers escalation events to. */
  notifyChannels: number;
  /** The Android channel, when the server runs one (--android-enterprise); push: the Pub/Sub push check. */
  android?: { channel: AndroidChannel; push?: { verify(authorization: string | undefined): Promise<void> } };
  /** Set by auth for admin routes. */
  token?: ApiTokenInfo;
  /** Set by auth for device routes. */
  deviceId?: string;
  /** The device row the credential check read (a check-in starts from it). */
  deviceSession?: DeviceSession;
  /** For the audit log and the access log. */
  actor?: Actor;
  /** The parsed JSON body (always an object); reads it on first call. */
  body(): Promise<Record<string, unknown>>;
}

/** A handler's answer: a JSON value (200), JSON already serialised (JsonText, 200), or NO_CONTENT (204). */
export const NO_CONTENT: unique symbol = Symbol('no content');

/** A 200 body serialised by the handler (JSON text of an object). */
export class JsonText {
  constructor(readonly text: string) {}
}

const serialised = new WeakMap<object, string>();

/**
 * JSON.stringify(value), remembered for this object: for a value shared by many responses and
 * never changed once made (a device configuration of one resource snapshot, see
 * FleetService.checkIn). A new snapshot makes new objects, so nothing stale can be served.
 */
export function jsonOf(value: object): string {
  let text = serialised.get(value);
  if (text === undefined) serialised.set(value, (text = JSON.stringify(value)));
  return text;
}
export type HandlerResult = unknown;
export type Handler = (ctx: RequestContext) => HandlerResult | Promise<HandlerResult>;

export interface Route {
  method: Method;
  /** Path template, `{name}` for a parameter segment. */
  path: string;
  auth: RouteAuth;
  /** Unauthenticated routes that change state are rate-limited per client address. */
  limitByIp?: boolean;
  handler: Handler;
}

/** An error with an HTTP status and a BackendErrorCode, rendered as {"error":{code,message}}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: BackendErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** What to do next, sent as error.hint. */
    readonly hint?: string,
    /** More members of the error object, e.g. the policy problems of a 422. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const STATUS_BY_CODE: Record<BackendErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  unavailable: 503,
  protocol: 500,
};

export function statusForBackendError(error: BackendError): number {
  return STATUS_BY_CODE[error.code] ?? 500;
}

export const badRequest = (message: string) => new HttpError(400, 'invalid', message);
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);

interface CompiledRoute extends Route {
  segments: string[];
  /** Index → parameter name for `{name}` segments. */
  paramAt: Map<number, string>;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

export type MatchResult = RouteMatch | { allowed: Method[] } | undefined;

export class Router {
  private readonly exact = new Map<string, Route>();
  private readonly templated: CompiledRoute[] = [];
  readonly routes: readonly Route[];

  constructor(routes: Route[]) {
    this.routes = routes;
    for (const route of routes) {
      if (!route.path.includes('{')) {
        this.exact.set(`${route.method} ${route.path}`, route);
        continue;
      }
      const segments = route.path.split('/');
      const paramAt = new Map<number, string>();
      segments.forEach((s, i) => {
        if (s.startsWith('{') && s.endsWith('}')) paramAt.set(i, s.slice(1, -1));
      });
      this.templated.push({ ...route, segments, paramAt });
    }
  }

  /** The route for method + path; `{allowed}` when the path exists with other methods; undefined when no route has the path. */
  match(method: string, path: string): MatchResult {
    const hit = this.exact.get(`${method} ${path}`);
    if (hit) return { route: hit, params: {} };
    const parts = path.split('/');
    for (const route of this.templated) {
      if (route.method !== method) continue;
      const params = matchSegments(route, parts);
      if (params) return { route, params };
    }
    // No route: say which methods the path does take, if any (405 vs 404).
    const allowed: Method[] = [];
    for (const route of this.exact.values()) if (route.path === path) allowed.push(route.method);
    for (const route of this.templated) if (route.method !== method && matchSegments(route, parts)) allowed.push(route.method);
    return allowed.length ? { allowed } : undefined;
  }
}

function matchSegments(route: CompiledRoute, parts: string[]): Record<string, string> | undefined {
  if (parts.length !== route.segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const name = route.paramAt.get(i);
    if (name !== undefined) {
      if (parts[i] === '') return undefined;
      let value: string;
      try {
        value = decodeURIComponent(parts[i]!);
      } catch {
        return undefined;
      }
      params[name] = value;
    } else if (parts[i] !== route.segments[i]) {
      return undefined;
    }
  }
  return params;
}
