// The admin REST API: everything the Backend interface does, for API tokens by role.
import type { DeviceFilter, DeviceQuery, PreregisteredDevice, ResourceChange } from '../../backends/backend.js';
import { BackendError } from '../../errors.js';
import { parseDeviceFilter } from '../../model/filter.js';
import { COMMAND_STATUSES, COMMAND_TYPES, OWNERSHIPS, PLATFORMS, type CommandType } from '../../model/fleet.js';
import { RESOURCE_KINDS, type ResourceDocument, type ResourceKind } from '../../model/policy.generated.js';
import { MAX_RELEASE_SECONDS, type Actor } from '../../store/api.js';
import { API_ROLES, requireRole } from '../auth.js';
import { badRequest, type RequestContext, type Route } from '../router.js';
import {
  checkQuery,
  isObject,
  oneOf,
  optionalBoolean,
  optionalInt,
  optionalString,
  queryLimit,
  requiredArray,
  requiredString,
  single,
} from '../validate.js';

/** Commands that destroy data need more than the operator role. */
const ADMIN_COMMANDS: ReadonlySet<CommandType> = new Set(['wipe', 'retire']);
const MAX_TOKEN_SECONDS = 10 * 365 * 86400;

const actor = (ctx: RequestContext): Actor => ctx.actor!;

export const adminRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/whoami',
    auth: 'viewer',
    // storeId: which store this server serves, so a saved plan can tell it from another (src/plan).
    handler: (ctx) => ({ name: ctx.token!.name, role: ctx.token!.role, storeId: ctx.store.storeId() }),
  },
  {
    method: 'GET',
    path: '/v1/resources',
    auth: 'viewer',
    handler: (ctx) => {
      checkQuery(ctx.query, ['kind']);
      const kind = oneOf(single(ctx.query, 'kind'), RESOURCE_KINDS, 'kind');
      return { items: ctx.store.listResources(kind) };
    },
  },
  {
    method: 'POST',
    path: '/v1/plans/seal',
    // Viewers plan too; a seal only says "made against this store", applying still needs operator.
    auth: 'viewer',
    handler: async (ctx) => {
      const body = await ctx.body();
      if (!isObject(body)) throw badRequest('body must be an object');
      const extra = Object.keys(body).filter((k) => k !== 'digest');
      if (extra.length) throw badRequest(`unknown field body.${extra[0]} (expected only digest)`);
      return { seal: ctx.store.sealPlan(requiredString(body, 'digest')) };
    },
  },
  {
    method: 'POST',
    path: '/v1/resources/apply',
    auth: 'operator',
    handler: async (ctx) => {
      const body = await ctx.body();
      const changes = requiredArray(body, 'changes').map((c, i) => parseChange(c, i));
      const prune = optionalBoolean(body, 'prune') ?? false;
      if (prune) requireRole(ctx, 'admin', 'apply with prune');
      if (changes.some((c) => c.op === 'delete')) requireRole(ctx, 'admin', 'deleting resources');
      // Optional here (older clients): with it, a retried apply that already landed gets its first result.
      const key = idempotencyKey(ctx);
      const scoped = key === undefined ? undefined : `${ctx.token!.id}:${key}`;
      try {
        return { applied: ctx.store.applyChanges(changes, actor(ctx), { prune, idempotencyKey: scoped }) };
      } catch (error) {
        if (scoped && error instanceof BackendError && error.message.includes(scoped)) {
          throw new BackendError(error.code, error.message.replaceAll(scoped, key!), { hint: error.hint });
        }
        throw error;
      }
    },
  },
  {
    method: 'POST',
    path: '/v1/enrollment-tokens',
    auth: 'operator',
    handler: async (ctx) => {
      const body = await ctx.body();
      const input = {
        profile: requiredString(body, 'profile'),
        expiresInSeconds: optionalInt(body, 'expiresInSeconds', 1, MAX_TOKEN_SECONDS),
        maxUses: optionalInt(body, 'maxUses', 1),
      };
      return ctx.store.createEnrollmentToken(input, actor(ctx));
    },
  },
  {
    method: 'GET',
    path: '/v1/enrollment-tokens',
    auth: 'viewer',
    handler: (ctx) => {
      checkQuery(ctx.query, []);
      return { items: ctx.store.listEnrollmentTokens() };
    },
  },
  {
    method: 'POST',
    path: '/v1/enrollment-tokens/{id}/revoke',
    auth: 'operator',
    handler: async (ctx) => {
      await ctx.body();
      return ctx.store.revokeEnrollmentToken(ctx.params.id!, actor(ctx));
    },
  },
  {
    method: 'POST',
    path: '/v1/devices/preregister',
    auth: 'operator',
    handler: async (ctx) => {
      const body = await ctx.body();
      const rows = requiredArray(body, 'devices').map((d, i) => parsePreregistered(d, i));
      return ctx.store.preregisterDevices(rows, actor(ctx));
    },
  },
  {
    method: 'GET',
    path: '/v1/devices',
    auth: 'viewer',
    handler: (ctx) => ctx.store.listDevices(deviceQuery(ctx.query)),
  },
  {
    method: 'GET',
    path: '/v1/devices/{id}',
    auth: 'viewer',
    handler: (ctx) => {
      checkQuery(ctx.query, []);
      return ctx.store.getDevice(ctx.params.id!);
    },
  },
  {
    method: 'POST',
    path: '/v1/devices/{id}/release',
    auth: 'admin',
    handler: async (ctx) => {
      const body = await ctx.body();
      const expiresInSeconds = optionalInt(body, 'expiresInSeconds', 1, MAX_RELEASE_SECONDS);
      return ctx.store.releaseDevice(ctx.params.id!, { expiresInSeconds }, actor(ctx));
    },
  },
  {
    method: 'GET',
    path: '/v1/compliance',
    auth: 'viewer',
    handler: (ctx) => ctx.store.listCompliance(deviceQuery(ctx.query)),
  },
  {
    method: 'POST',
    path: '/v1/commands',
    auth: 'operator',
    handler: async (ctx) => {
      const key = ctx.req.headers['idempotency-key'];
      if (typeof key !== 'string' || key.trim() === '') {
        throw badRequest('POST /v1/commands needs an Idempotency-Key header (any unique string, reused when retrying the same request)');
      }
      if (key.length > 200) throw badRequest('Idempotency-Key is longer than 200 characters');
      const body = await ctx.body();
      const deviceIds = requiredArray(body, 'deviceIds').map((id, i) => {
        if (typeof id !== 'string' || id === '') throw badRequest(`body.deviceIds[${i}] must be a device id`);
        return id;
      });
      if (deviceIds.length === 0) throw badRequest('body.deviceIds is empty');
      const type = oneOf(requiredString(body, 'type'), COMMAND_TYPES, 'body.type')!;
      if (ADMIN_COMMANDS.has(type)) requireRole(ctx, 'admin', `a ${type} command`);
      const reason = optionalString(body, 'reason');
      // Keys are scoped per API token: two clients that happen to pick the same key never see each other's result.
      const scoped = `${ctx.token!.id}:${key}`;
      try {
        return ctx.store.enqueueCommands({ deviceIds, type, reason, idempotencyKey: scoped }, actor(ctx));
      } catch (error) {
        if (error instanceof BackendError && error.message.includes(scoped)) {
          throw new BackendError(error.code, error.message.replaceAll(scoped, key), { hint: error.hint });
        }
        throw error;
      }
    },
  },
  {
    method: 'GET',
    path: '/v1/commands',
    auth: 'viewer',
    handler: (ctx) => {
      const q = ctx.query;
      checkQuery(q, ['deviceId', 'status', 'type', 'limit', 'cursor']);
      return ctx.store.listCommands({
        deviceId: single(q, 'deviceId'),
        status: oneOf(single(q, 'status'), COMMAND_STATUSES, 'status'),
        type: oneOf(single(q, 'type'), COMMAND_TYPES, 'type'),
        limit: queryLimit(q),
        cursor: single(q, 'cursor'),
      });
    },
  },
  {
    method: 'GET',
    path: '/v1/commands/{id}',
    auth: 'viewer',
    handler: (ctx) => {
      checkQuery(ctx.query, []);
      return ctx.store.getCommand(ctx.params.id!);
    },
  },
  {
    method: 'POST',
    path: '/v1/commands/{id}/cancel',
    auth: 'operator',
    handler: async (ctx) => {
      await ctx.body();
      return ctx.store.cancelCommand(ctx.params.id!, actor(ctx));
    },
  },
  {
    method: 'GET',
    path: '/v1/audit',
    auth: 'viewer',
    handler: (ctx) => {
      const q = ctx.query;
      checkQuery(q, ['since', 'actor', 'limit', 'cursor', 'order']);
      const since = single(q, 'since');
      if (since !== undefined && (!/^\d{4}-\d{2}-\d{2}/.test(since) || Number.isNaN(Date.parse(since)))) {
        throw badRequest(`since must be an ISO-8601 time such as 2026-01-31T00:00:00Z (got "${since}")`);
      }
      const order = single(q, 'order');
      if (order !== undefined && order !== 'asc' && order !== 'desc') throw badRequest(`order must be asc or desc (got "${order}")`);
      return ctx.store.listAudit({ since, actor: single(q, 'actor'), limit: queryLimit(q), cursor: single(q, 'cursor'), order });
    },
  },
  {
    method: 'GET',
    path: '/v1/tokens',
    auth: 'admin',
    handler: (ctx) => {
      checkQuery(ctx.query, []);
      return { items: ctx.store.listApiTokens() };
    },
  },
  {
    method: 'POST',
    path: '/v1/tokens',
    auth: 'admin',
    handler: async (ctx) => {
      const body = await ctx.body();
      const input = {
        name: requiredString(body, 'name'),
        role: oneOf(requiredString(body, 'role'), API_ROLES, 'body.role')!,
        expiresInSeconds: optionalInt(body, 'expiresInSeconds', 1, MAX_TOKEN_SECONDS),
      };
      return ctx.store.createApiToken(input, actor(ctx));
    },
  },
  {
    method: 'POST',
    path: '/v1/tokens/{id}/revoke',
    auth: 'admin',
    handler: async (ctx) => {
      await ctx.body();
      return ctx.store.revokeApiToken(ctx.params.id!, actor(ctx));
    },
  },
];

function idempotencyKey(ctx: RequestContext): string | undefined {
  const key = ctx.req.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || key.trim() === '') throw badRequest('Idempotency-Key must be a non-empty string');
  if (key.length > 200) throw badRequest('Idempotency-Key is longer than 200 characters');
  return key;
}

function deviceQuery(q: URLSearchParams): DeviceQuery {
  checkQuery(q, ['filter', 'sort', 'limit', 'cursor']);
  // A bad filter throws UsageError, which the server answers as 400 invalid with its hint.
  const filters: DeviceFilter[] = q.getAll('filter').map((text) => parseDeviceFilter(text));
  const sort = single(q, 'sort');
  if (sort !== undefined && !/^-?[A-Za-z]+$/.test(sort)) throw badRequest(`sort must be a field name with an optional - prefix (got "${sort}")`);
  return { filters, sort, limit: queryLimit(q), cursor: single(q, 'cursor') };
}

function parseChange(value: unknown, i: number): ResourceChange {
  const where = `body.changes[${i}]`;
  if (!isObject(value)) throw badRequest(`${where} must be an object`);
  const op = oneOf(requiredString(value, 'op', where), ['create', 'update', 'delete'] as const, `${where}.op`)!;
  const kind = oneOf(requiredString(value, 'kind', where), RESOURCE_KINDS, `${where}.kind`)! as ResourceKind;
  const name = requiredString(value, 'name', where);
  if (op === 'delete') {
    const expectedVersion = optionalInt(value, 'expectedVersion', 0, undefined, where);
    if (expectedVersion === undefined) throw badRequest(`${where}.expectedVersion is required for a delete`);
    return { op, kind, name, expectedVersion };
  }
  const document = value.document;
  if (!isObject(document)) throw badRequest(`${where}.document must be an object (the resource document)`);
  if (document.kind !== kind) throw badRequest(`${where}.document.kind is "${String(document.kind)}", but the change is for a ${kind}`);
  const meta = document.metadata;
  if (!isObject(meta) || meta.name !== name) throw badRequest(`${where}.document.metadata.name must be "${name}"`);
  const secrets = value.secrets;
  if (secrets !== undefined && (!isObject(secrets) || Object.values(secrets).some((v) => typeof v !== 'string'))) {
    throw badRequest(`${where}.secrets must be an object of document path → secret value`);
  }
  const withSecrets = secrets === undefined ? {} : { secrets: secrets as Record<string, string> };
  if (op === 'create') return { op, kind, name, document: document as unknown as ResourceDocument, ...withSecrets };
  const expectedVersion = optionalInt(value, 'expectedVersion', 0, undefined, where);
  if (expectedVersion === undefined) throw badRequest(`${where}.expectedVersion is required for an update`);
  return { op, kind, name, document: document as unknown as ResourceDocument, expectedVersion, ...withSecrets };
}

function parsePreregistered(value: unknown, i: number): PreregisteredDevice {
  const where = `body.devices[${i}]`;
  if (!isObject(value)) throw badRequest(`${where} must be an object`);
  const labels = value.labels;
  if (labels !== undefined && (!isObject(labels) || Object.values(labels).some((v) => typeof v !== 'string'))) {
    throw badRequest(`${where}.labels must be an object of strings`);
  }
  return {
    serial: requiredString(value, 'serial', where),
    platform: oneOf(requiredString(value, 'platform', where), PLATFORMS, `${where}.platform`)!,
    ownership: oneOf(optionalString(value, 'ownership', where), OWNERSHIPS, `${where}.ownership`),
    owner: optionalString(value, 'owner', where),
    name: optionalString(value, 'name', where),
    labels: labels as Record<string, string> | undefined,
  };
}
