// Who is calling: admin API tokens (`Authorization: Bearer <secret>`) and device credentials
// (`Authorization: Device <credential>`) are separate schemes, so neither opens the other's routes.
import type { ApiRole } from '../model/access.js';
import { HttpError, type RequestContext, type RouteAuth } from './router.js';

import { roleAtLeast } from '../fleet/change-roles.js';

export { roleAtLeast };
/** Lowest first. */
export const API_ROLES: readonly ApiRole[] = ['viewer', 'operator', 'admin'];

/** `Scheme credentials` → [scheme lower-cased, credentials], or undefined. */
export function parseAuthorization(header: string | undefined): [string, string] | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space <= 0) return undefined;
  const credentials = header.slice(space + 1).trim();
  if (!credentials) return undefined;
  return [header.slice(0, space).toLowerCase(), credentials];
}

const unauthorized = (message: string, scheme: string) =>
  new HttpError(401, 'unauthorized', message, { 'www-authenticate': scheme });

/** Sets ctx.token / ctx.deviceId and ctx.actor, or throws 401/403. */
export async function authenticate(ctx: RequestContext, auth: RouteAuth): Promise<void> {
  if (auth === 'none') return;
  const parsed = parseAuthorization(ctx.req.headers.authorization);
  if (auth === 'device') {
    if (!parsed || parsed[0] !== 'device') {
      throw unauthorized('agent routes need the device credential issued at enrollment: Authorization: Device <credential>', 'Device');
    }
    const session = await ctx.store.authenticateDeviceSession(parsed[1]);
    if (!session) throw unauthorized('unknown or revoked device credential; enroll the device again', 'Device');
    const deviceId = session.id;
    ctx.deviceId = deviceId;
    ctx.deviceSession = session;
    ctx.actor = { name: `device:${deviceId}`, source: ctx.ip };
    return;
  }
  if (!parsed || parsed[0] !== 'bearer') {
    throw unauthorized('missing API token: send Authorization: Bearer <token> (create one with `emmctl server token create`)', 'Bearer');
  }
  const token = await ctx.store.authenticateApiToken(parsed[1]);
  if (!token) throw unauthorized('invalid, expired or revoked API token', 'Bearer');
  ctx.token = token;
  ctx.actor = { name: token.name, source: ctx.ip, role: token.role };
  requireRole(ctx, auth);
}

export function requireRole(ctx: RequestContext, needed: ApiRole, what?: string): void {
  const role = ctx.token?.role;
  if (!role || !roleAtLeast(role, needed)) {
    throw new HttpError(403, 'forbidden', `${what ?? 'this request'} needs the ${needed} role; token "${ctx.token?.name ?? '?'}" is ${role ?? 'not an API token'}`);
  }
}
