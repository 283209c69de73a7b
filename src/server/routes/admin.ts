// The admin REST API: everything the Backend interface does, for API tokens by role.
import type { DeviceFilter, DeviceQuery, PreregisteredDevice, ResourceChange } from '../../model/requests.js';
import { BackendError } from '../../errors.js';
import { checkLabels, checkSerial } from '../../model/device-limits.js';
import { parseDeviceFilter } from '../../model/filter.js';
import { COMMAND_STATUSES, COMMAND_TYPES, OWNERSHIPS, PLATFORMS } from '../../model/fleet.js';
import { RESOURCE_KINDS, type ResourceDocument, type ResourceKind } from '../../model/policy.generated.js';
import { MAX_RELEASE_SECONDS, type Actor } from '../../model/access.js';
import { COMMAND_ROLES, preregisterNeeds, roleNeeds, unmetNeed } from '../../fleet/change-roles.js';
import type { StoredResource } from '../../model/fleet.js';
import { API_ROLES, requireRole } from '../auth.js';
import { badRequest, HttpError, JsonText, type RequestContext, type Route } from '../router.js';
import { linedPageJson } from '../../model/page-lines.js';
import { checkBody, MAX_TOKEN_SECONDS, type RequestShape } from '../shapes.js';
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

const actor = (ctx: RequestContext): Actor => ctx.actor!;

/** The body, checked against its shape (unknown fields, types, limits) before any field is read. */
async function body(ctx: RequestContext, shape: RequestShape): Promise<Record<string, unknown>> {
  const value = await ctx.body();
  checkBody(shape, value);
  return value;
}

export const adminRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/whoami',
    auth: 'viewer',
    // storeId: which store this server serves, so a saved plan can tell it from another (src/plan).
    // channels: the device channels besides the agent, so the CLI knows to warn about what AMAPI cannot express.
    handler: async (ctx) => ({ name: ctx.token!.name, role: ctx.token!.role, storeId: await ctx.store.storeId(), notifyChannels: ctx.notifyChannels, channels: ctx.android ? ['android'] : [] }),
  },
  {
    method: 'GET',
    path: '/v1/resources',
    auth: 'viewer',
    handler: async (ctx) => {
      checkQuery(ctx.query, ['kind']);
      const kind = oneOf(single(ctx.query, 'kind'), RESOURCE_KINDS, 'kind');
      return { items: await ctx.store.listResources(kind) };
    },
  },
  {
    method: 'POST',
    path: '/v1/plans/seal',
    // Viewers plan too; a seal only says "made against this store", applying still needs operator.
    auth: 'viewer',
    handler: async (ctx) => {
      return { seal: await ctx.store.sealPlan(requiredString(await body(ctx, 'SealPlanRequest'), 'digest')) };
    },
  },
  {
    method: 'POST',
    path: '/v1/resources/apply',
    auth: 'operator',
    handler: async (ctx) => {
      const input = await body(ctx, 'ApplyRequest');
      const changes = requiredArray(input, 'changes').map((c, i) => parseChange(c, i));
      const prune = optionalBoolean(input, 'prune') ?? false;
      if (prune) requireRole(ctx, 'admin', 'apply with prune');
      if (changes.some((c) => c.op === 'delete')) requireRole(ctx, 'admin', 'deleting resources');
      const { documentSetChecker } = await import('../../policy/documents.js');
      const checkSet = await documentSetChecker();
      // Inside the store's transaction, on exactly the state the changes apply to.
      const precheck = (current: StoredResource[]) => {
        checkChangeDocuments(checkSet, changes, current);
        const unmet = unmetNeed(roleNeeds(changes, current), ctx.token!.role);
        if (unmet) {
          throw new HttpError(403, 'forbidden', `${unmet.ref} (changes[${unmet.change}]) needs the ${unmet.role} role: ${unmet.reason}; token "${ctx.token!.name}" is ${ctx.token!.role}, so nothing was applied`, {}, undefined, {
            document: unmet.ref,
            change: unmet.change,
            role: unmet.role,
          });
        }
      };
      // Optional here (older clients): with it, a retried apply that already landed gets its first result.
      const key = idempotencyKey(ctx);
      const scoped = key === undefined ? undefined : `${ctx.token!.id}:${key}`;
      try {
        return { applied: await ctx.store.applyChanges(changes, actor(ctx), { prune, idempotencyKey: scoped, precheck }) };
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
      const fields = await body(ctx, 'CreateEnrollmentTokenRequest');
      const input = {
        profile: requiredString(fields, 'profile'),
        expiresInSeconds: optionalInt(fields, 'expiresInSeconds', 1, MAX_TOKEN_SECONDS),
        maxUses: optionalInt(fields, 'maxUses', 1),
      };
      // A profile that takes Android devices also gets Google's token when the server runs the channel.
      if (ctx.android) return await ctx.android.channel.createEnrollmentToken(input, actor(ctx));
      return await ctx.store.createEnrollmentToken(input, actor(ctx));
    },
  },
  {
    method: 'GET',
    path: '/v1/enrollment-tokens',
    auth: 'viewer',
    handler: async (ctx) => {
      checkQuery(ctx.query, []);
      return { items: await ctx.store.listEnrollmentTokens() };
    },
  },
  {
    method: 'POST',
    path: '/v1/enrollment-tokens/{id}/revoke',
    auth: 'operator',
    handler: async (ctx) => {
      await body(ctx, 'EmptyRequest');
      return await ctx.store.revokeEnrollmentToken(ctx.params.id!, actor(ctx));
    },
  },
  {
    method: 'POST',
    path: '/v1/devices/preregister',
    auth: 'operator',
    handler: async (ctx) => {
      const rows = requiredArray(await body(ctx, 'PreregisterRequest'), 'devices').map((d, i) => parsePreregistered(d, i));
      const unmet = unmetNeed(preregisterNeeds(rows, await ctx.store.listResources()), ctx.token!.role);
      if (unmet) {
        throw new HttpError(403, 'forbidden', `body.devices[${unmet.row}] (serial ${JSON.stringify(rows[unmet.row]!.serial)}) needs the ${unmet.role} role: ${unmet.reason}; token "${ctx.token!.name}" is ${ctx.token!.role}, so nothing was registered`);
      }
      return await ctx.store.preregisterDevices(rows, actor(ctx));
    },
  },
  {
    method: 'GET',
    path: '/v1/devices',
    auth: 'viewer',
    handler: async (ctx) => await ctx.store.listDevices(deviceQuery(ctx.query)),
  },
  {
    method: 'GET',
    path: '/v1/devices/{id}',
    auth: 'viewer',
    handler: async (ctx) => {
      checkQuery(ctx.query, []);
      return await ctx.store.getDevice(ctx.params.id!);
    },
  },
  {
    method: 'POST',
    path: '/v1/devices/{id}/release',
    auth: 'admin',
    handler: async (ctx) => {
      const expiresInSeconds = optionalInt(await body(ctx, 'ReleaseDeviceRequest'), 'expiresInSeconds', 1, MAX_RELEASE_SECONDS);
      return await ctx.store.releaseDevice(ctx.params.id!, { expiresInSeconds }, actor(ctx));
    },
  },
  {
    method: 'GET',
    path: '/v1/compliance',
    auth: 'viewer',
    // One record per line, so the CLI prints each as it came (model/page-lines.ts).
    handler: async (ctx) => new JsonText(linedPageJson(await ctx.store.listCompliance({ ...deviceQuery(ctx.query, ['at']), at: single(ctx.query, 'at') }))),
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
      const input = await body(ctx, 'EnqueueRequest');
      const deviceIds = requiredArray(input, 'deviceIds').map((id, i) => {
        if (typeof id !== 'string' || id === '') throw badRequest(`body.deviceIds[${i}] must be a device id`);
        return id;
      });
      if (deviceIds.length === 0) throw badRequest('body.deviceIds is empty');
      const type = oneOf(requiredString(input, 'type'), COMMAND_TYPES, 'body.type')!;
      requireRole(ctx, COMMAND_ROLES[type], `a ${type} command`);
      const reason = optionalString(input, 'reason');
      // Keys are scoped per API token: two clients that happen to pick the same key never see each other's result.
      const scoped = `${ctx.token!.id}:${key}`;
      try {
        return await ctx.store.enqueueCommands({ deviceIds, type, reason, idempotencyKey: scoped }, actor(ctx));
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
    handler: async (ctx) => {
      const q = ctx.query;
      checkQuery(q, ['deviceId', 'status', 'type', 'limit', 'cursor']);
      return await ctx.store.listCommands({
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
    handler: async (ctx) => {
      checkQuery(ctx.query, []);
      return await ctx.store.getCommand(ctx.params.id!);
    },
  },
  {
    method: 'POST',
    path: '/v1/commands/{id}/cancel',
    auth: 'operator',
    handler: async (ctx) => {
      await body(ctx, 'EmptyRequest');
      return await ctx.store.cancelCommand(ctx.params.id!, actor(ctx));
    },
  },
  {
    method: 'GET',
    path: '/v1/audit',
    auth: 'viewer',
    handler: async (ctx) => {
      const q = ctx.query;
      checkQuery(q, ['since', 'actor', 'limit', 'cursor', 'order']);
      const since = single(q, 'since');
      if (since !== undefined && (!/^\d{4}-\d{2}-\d{2}/.test(since) || Number.isNaN(Date.parse(since)))) {
        throw badRequest(`since must be an ISO-8601 time such as 2026-01-31T00:00:00Z (got "${since}")`);
      }
      const order = single(q, 'order');
      if (order !== undefined && order !== 'asc' && order !== 'desc') throw badRequest(`order must be asc or desc (got "${order}")`);
      return await ctx.store.listAudit({ since, actor: single(q, 'actor'), limit: queryLimit(q), cursor: single(q, 'cursor'), order });
    },
  },
  {
    method: 'GET',
    path: '/v1/tokens',
    auth: 'admin',
    handler: async (ctx) => {
      checkQuery(ctx.query, []);
      return { items: await ctx.store.listApiTokens() };
    },
  },
  {
    method: 'POST',
    path: '/v1/tokens',
    auth: 'admin',
    handler: async (ctx) => {
      const fields = await body(ctx, 'CreateApiTokenRequest');
      const input = {
        name: requiredString(fields, 'name'),
        role: oneOf(requiredString(fields, 'role'), API_ROLES, 'body.role')!,
        expiresInSeconds: optionalInt(fields, 'expiresInSeconds', 1, MAX_TOKEN_SECONDS),
      };
      return await ctx.store.createApiToken(input, actor(ctx));
    },
  },
  {
    method: 'POST',
    path: '/v1/tokens/{id}/revoke',
    auth: 'admin',
    handler: async (ctx) => {
      await body(ctx, 'EmptyRequest');
      return await ctx.store.revokeApiToken(ctx.params.id!, actor(ctx));
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

function deviceQuery(q: URLSearchParams, extra: string[] = []): DeviceQuery {
  checkQuery(q, ['filter', 'sort', 'limit', 'cursor', ...extra]);
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
  if (labels !== undefined) checkLabels(labels as Record<string, unknown>, `${where}.labels:`);
  const serial = requiredString(value, 'serial', where);
  checkSerial(serial, `${where}.serial`);
  return {
    serial,
    platform: oneOf(requiredString(value, 'platform', where), PLATFORMS, `${where}.platform`)!,
    ownership: oneOf(optionalString(value, 'ownership', where), OWNERSHIPS, `${where}.ownership`),
    owner: optionalString(value, 'owner', where),
    name: optionalString(value, 'name', where),
    labels: labels as Record<string, string> | undefined,
  };
}

type SetChecker = Awaited<ReturnType<typeof import('../../policy/documents.js').documentSetChecker>>;

/**
 * The documents of the change set, checked as `emmctl validate` checks files: each on its own,
 * then together with the stored documents the set leaves in place. Errors → 422 with the
 * problem records (path, rule, message); warnings do not block, as in `validate`.
 */
function checkChangeDocuments(checkSet: SetChecker, changes: readonly ResourceChange[], current: readonly StoredResource[]): void {
  const touched = new Set(changes.map((c) => `${c.kind}/${c.name}`));
  const documents = changes.flatMap((c, i) => (c.op === 'delete' ? [] : [{ label: `changes[${i}]`, value: c.document }]));
  const context = current.filter((r) => !touched.has(`${r.kind}/${r.name}`)).map((r) => ({ label: `${r.kind}/${r.name}`, value: r.document }));
  const errors = checkSet(documents, context).problems.filter((p) => p.severity === 'error');
  if (errors.length === 0) return;
  const refOf = new Map(changes.map((c, i) => [`changes[${i}]`, `${c.kind}/${c.name}`]));
  const problems = errors.map((p) => ({ document: refOf.get(p.file) ?? p.file, ...(refOf.has(p.file) ? { change: Number(p.file.slice(8, -1)) } : {}), path: p.path, rule: p.rule, message: p.message, severity: p.severity }));
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length === 2 ? '' : 's'})` : '';
  throw new HttpError(
    422,
    'invalid',
    `${first.document}: ${first.path ? `${first.path}: ` : ''}${first.message} [${first.rule}]${more}; nothing was applied`,
    {},
    'run `emmctl validate` on the policy files: it reports the same problems with file and line',
    { problems },
  );
}
