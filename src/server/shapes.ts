// The request bodies every route takes, as JSON Schema: one source for the server's checks
// (checkBody below, before a handler reads a field) and for the OpenAPI document's component
// schemas (src/server/openapi.ts), so the documented limits are the enforced ones.
// Policy documents inside a body are `$ref: ResourceDocument`: checkBody only asks for an
// object there; the routes run the policy validator (src/policy) on them, as `validate` does.
import { DEVICE_LIMITS, LABEL_LIMITS } from '../model/device-limits.js';
import { didYouMean } from '../model/suggest.js';
import { COMMAND_TYPES, OWNERSHIPS, PLATFORMS } from '../model/fleet.js';
import { RESOURCE_KINDS } from '../model/policy.generated.js';
import { MAX_RELEASE_SECONDS } from '../model/access.js';
import { badRequest } from './router.js';

/** The subset of JSON Schema the shapes use; checkBody refuses to start on any other keyword. */
export interface Shape {
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean';
  description?: string;
  properties?: Record<string, Shape>;
  required?: readonly string[];
  additionalProperties?: false | Shape;
  maxProperties?: number;
  propertyNames?: Shape;
  items?: Shape;
  enum?: readonly string[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  $ref?: string;
}

export const MAX_TOKEN_SECONDS = 10 * 365 * 86400;
const REF = '#/components/schemas/';
const ref = (name: string): Shape => ({ $ref: REF + name });
const str = (maxLength: number, description?: string, minLength = 1): Shape => ({ type: 'string', minLength, maxLength, ...(description ? { description } : {}) });
const obj = (properties: Record<string, Shape>, required: readonly string[] = [], description?: string): Shape => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  ...(required.length ? { required } : {}),
  additionalProperties: false,
});
const RESOURCE_NAME: Shape = { type: 'string', minLength: 1, maxLength: 63, description: 'A resource name (metadata.name).' };

/** Named request shapes; their names are component schema names in the OpenAPI document. */
export const REQUEST_SHAPES = {
  Platform: { type: 'string', enum: PLATFORMS },
  Ownership: { type: 'string', enum: OWNERSHIPS },
  ResourceKind: { type: 'string', enum: RESOURCE_KINDS },
  CommandType: { type: 'string', enum: COMMAND_TYPES },
  ApiRole: { type: 'string', enum: ['viewer', 'operator', 'admin'] },
  /** POSTs that carry nothing (revoke, cancel): an empty object, or no body at all. */
  EmptyRequest: obj({}, [], 'No fields: send {} or no body.'),
  ResourceChange: obj(
    {
      op: { type: 'string', enum: ['create', 'update', 'delete'] },
      kind: ref('ResourceKind'),
      name: RESOURCE_NAME,
      document: { ...ref('ResourceDocument'), description: 'For create and update: the whole document, checked as `emmctl validate` checks it (422 with its problems when it fails).' },
      expectedVersion: { type: 'integer', minimum: 0, description: 'Required for update and delete; a mismatch is 409 conflict.' },
      secrets: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description: 'The value of each ${env:NAME} reference in the document, by its path (spec.settings.wifi[0].password); kept apart and given only to devices',
      },
    },
    ['op', 'kind', 'name'],
  ),
  ApplyRequest: obj({ changes: { type: 'array', items: ref('ResourceChange'), maxItems: 10_000 }, prune: { type: 'boolean' } }, ['changes']),
  CreateEnrollmentTokenRequest: obj(
    { profile: RESOURCE_NAME, expiresInSeconds: { type: 'integer', minimum: 1, maximum: MAX_TOKEN_SECONDS }, maxUses: { type: 'integer', minimum: 1, maximum: 1_000_000 } },
    ['profile'],
  ),
  PreregisteredDevice: obj(
    {
      serial: str(DEVICE_LIMITS.serial),
      platform: ref('Platform'),
      ownership: ref('Ownership'),
      owner: str(DEVICE_LIMITS.owner, undefined, 0),
      name: str(DEVICE_LIMITS.name, undefined, 0),
      labels: { type: 'object', maxProperties: LABEL_LIMITS.count, propertyNames: { type: 'string', maxLength: LABEL_LIMITS.key }, additionalProperties: str(LABEL_LIMITS.value, undefined, 0) },
    },
    ['serial', 'platform'],
  ),
  PreregisterRequest: obj({ devices: { type: 'array', items: ref('PreregisteredDevice'), maxItems: 10_000 } }, ['devices']),
  EnqueueRequest: obj({ deviceIds: { type: 'array', items: str(128), minItems: 1 }, type: ref('CommandType'), reason: str(1000, undefined, 0) }, ['deviceIds', 'type']),
  SealPlanRequest: obj({ digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$', description: 'The digest of the saved plan (its `digest` field).' } }, ['digest']),
  ReleaseDeviceRequest: obj({ expiresInSeconds: { type: 'integer', minimum: 1, maximum: MAX_RELEASE_SECONDS, description: 'How long the release lasts (default: the server\'s).' } }),
  CreateApiTokenRequest: obj({ name: str(128), role: ref('ApiRole'), expiresInSeconds: { type: 'integer', minimum: 1, maximum: MAX_TOKEN_SECONDS } }, ['name', 'role']),
  EnrollRequest: obj(
    {
      token: str(DEVICE_LIMITS.token, 'The enrollment token secret.'),
      platform: ref('Platform'),
      serial: str(DEVICE_LIMITS.serial),
      name: str(DEVICE_LIMITS.name, undefined, 0),
      model: str(DEVICE_LIMITS.model, undefined, 0),
      owner: str(DEVICE_LIMITS.owner, undefined, 0),
      ownership: ref('Ownership'),
      osVersion: str(DEVICE_LIMITS.osVersion),
    },
    ['token', 'platform', 'serial', 'osVersion'],
  ),
  Posture: obj(
    {
      osVersion: str(DEVICE_LIMITS.osVersion),
      patchLevel: { type: 'string', maxLength: 10, pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' },
      model: str(DEVICE_LIMITS.model, undefined, 0),
      serial: str(DEVICE_LIMITS.serial, undefined, 0),
      encrypted: { type: 'boolean' },
      passcodeSet: { type: 'boolean' },
      compromised: { type: 'boolean' },
      installedApps: { type: 'array', items: str(DEVICE_LIMITS.appId, undefined, 0), maxItems: DEVICE_LIMITS.installedApps },
      appliedConfigVersion: str(DEVICE_LIMITS.appliedConfigVersion, undefined, 0),
    },
    ['osVersion', 'encrypted', 'passcodeSet', 'compromised', 'installedApps'],
  ),
  CheckInRequest: obj({ posture: ref('Posture') }, ['posture']),
  CommandResultReport: obj({ status: { type: 'string', enum: ['acknowledged', 'failed'] }, detail: str(DEVICE_LIMITS.detail, undefined, 0) }, ['status']),
} satisfies Record<string, Shape>;

export type RequestShape = keyof typeof REQUEST_SHAPES;

const SHAPES: Record<string, Shape> = REQUEST_SHAPES;
/** Shapes that other validators own (the policy schema): checkBody only asks for an object. */
const EXTERNAL = new Set(['ResourceDocument']);
const KNOWN_KEYWORDS = new Set(['type', 'description', 'properties', 'required', 'additionalProperties', 'maxProperties', 'propertyNames', 'items', 'enum', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'minItems', 'maxItems', '$ref']);
const patterns = new Map<string, RegExp>();

// A keyword the checker does not know would be documented and silently not enforced.
(function audit(shape: Shape, at: string): void {
  for (const key of Object.keys(shape)) if (!KNOWN_KEYWORDS.has(key)) throw new Error(`request shape ${at} uses "${key}", which checkBody does not enforce`);
  if (shape.$ref && !(shape.$ref.slice(REF.length) in SHAPES) && !EXTERNAL.has(shape.$ref.slice(REF.length))) throw new Error(`request shape ${at}: unknown $ref ${shape.$ref}`);
  if (shape.pattern) patterns.set(shape.pattern, new RegExp(shape.pattern, 'u'));
  for (const [k, s] of Object.entries(shape.properties ?? {})) audit(s, `${at}.${k}`);
  if (shape.items) audit(shape.items, `${at}[]`);
  if (shape.additionalProperties) audit(shape.additionalProperties, `${at}.*`);
  if (shape.propertyNames) audit(shape.propertyNames, `${at}{}`);
})({ properties: SHAPES }, 'shapes');

/** Throws a 400 naming the first field that does not fit the shape (unknown fields included). */
export function checkBody(name: RequestShape, body: unknown, where = 'body'): void {
  check(SHAPES[name]!, body, where);
}

const own = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);
const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function check(shape: Shape, value: unknown, where: string): void {
  if (shape.$ref) {
    const target = shape.$ref.slice(REF.length);
    if (EXTERNAL.has(target)) {
      if (!isPlainObject(value)) throw badRequest(`${where} must be an object (a resource document)`);
      return;
    }
    return check(SHAPES[target]!, value, where);
  }
  switch (shape.type) {
    case 'object': {
      if (!isPlainObject(value)) throw badRequest(`${where} must be an object`);
      const props = shape.properties ?? {};
      const keys = Object.keys(value);
      if (shape.maxProperties !== undefined && keys.length > shape.maxProperties) throw badRequest(`${where} has ${keys.length} entries, at most ${shape.maxProperties}`);
      if (shape.propertyNames) for (const key of keys) check(shape.propertyNames, key, `${where} key ${JSON.stringify(key.slice(0, 64))}`);
      for (const key of Object.keys(value)) {
        const v = value[key];
        if (own(props, key)) {
          // null stands for "not given" in optional fields, as the handlers read them.
          if (v === null && !(shape.required ?? []).includes(key)) continue;
          check(props[key]!, v, `${where}.${key}`);
        } else if (shape.additionalProperties === false) {
          const allowed = Object.keys(props);
          // A typo, or a shortened name (`expires` for `expiresInSeconds`).
          const guess = didYouMean(key, allowed) ?? (key.length >= 3 ? allowed.find((a) => a.toLowerCase().startsWith(key.toLowerCase())) : undefined);
          throw badRequest(`unknown field ${JSON.stringify(key)} in ${where}${guess ? ` (did you mean "${guess}"?)` : allowed.length ? `; allowed: ${allowed.join(', ')}` : '; it takes no fields'}`);
        } else if (shape.additionalProperties) {
          check(shape.additionalProperties, v, `${where}.${key}`);
        }
      }
      // After the fields given, so a wrong value is named before a missing neighbour.
      for (const key of shape.required ?? []) {
        if (!own(value, key) || value[key] === undefined || value[key] === null) throw badRequest(`${where}.${key} is required`);
      }
      return;
    }
    case 'array': {
      if (!Array.isArray(value)) throw badRequest(`${where} must be an array`);
      if (shape.minItems !== undefined && value.length < shape.minItems) throw badRequest(`${where} must have at least ${shape.minItems} item${shape.minItems === 1 ? '' : 's'}`);
      if (shape.maxItems !== undefined && value.length > shape.maxItems) throw badRequest(`${where} has ${value.length} entries, at most ${shape.maxItems}`);
      if (shape.items) value.forEach((item, i) => check(shape.items!, item, `${where}[${i}]`));
      return;
    }
    case 'string': {
      if (typeof value !== 'string') throw badRequest(`${where} must be a string`);
      if (shape.enum && !shape.enum.includes(value)) throw badRequest(`${where} must be one of ${shape.enum.join(', ')} (got ${JSON.stringify(value.slice(0, 64))})`);
      if (shape.minLength !== undefined && value.length < shape.minLength) throw badRequest(shape.minLength === 1 ? `${where} must not be empty` : `${where} must be at least ${shape.minLength} characters long`);
      // JSON Schema counts code points, as the store's own bounds do (src/model/device-limits.ts).
      if (shape.maxLength !== undefined && value.length > shape.maxLength) {
        const n = [...value].length;
        if (n > shape.maxLength) throw badRequest(`${where} is too long: ${n} characters, at most ${shape.maxLength}`);
      }
      if (shape.pattern && !patterns.get(shape.pattern)!.test(value)) throw badRequest(`${where} has an invalid format (got ${JSON.stringify(value.slice(0, 64))})`);
      return;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) throw badRequest(`${where} must be an integer`);
      if ((shape.minimum !== undefined && value < shape.minimum) || (shape.maximum !== undefined && value > shape.maximum)) {
        throw badRequest(`${where} must be an integer from ${shape.minimum ?? '-∞'}${shape.maximum !== undefined ? ` to ${shape.maximum}` : ''} (got ${value})`);
      }
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw badRequest(`${where} must be true or false`);
      return;
    default:
      return;
  }
}
