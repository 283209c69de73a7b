// The OpenAPI 3.1 description of every route, as data. test/server/openapi.test.ts checks it
// against the router's table both ways (every route documented, every documented path routed).
// Component schemas come from their sources, never from a copy kept here: request bodies from
// src/server/shapes.ts (what the server enforces) and policy documents from
// schema/emmctl.schema.json (what `emmctl validate` enforces), its $defs hoisted into components.
// Response shapes are described here; the store's records are their source.
import schemaJson from '../../schema/emmctl.schema.json' with { type: 'json' };
import { MAX_FILTER_TEXT_LENGTH, MAX_FILTER_VALUE_LENGTH } from '../model/filter.js';
import { COMMAND_STATUSES, COMPLIANCE_STATUSES, DEVICE_STATES } from '../model/fleet.js';
import { MAX_JSON_DEPTH } from './body.js';
import { REQUEST_SHAPES, type RequestShape } from './shapes.js';

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json): Json => ({ content: { 'application/json': { schema } } });
const ok = (description: string, schema: Json): Json => ({ description, ...json(schema) });
const page = (item: string): Json => ({
  type: 'object',
  required: ['items'],
  properties: { items: { type: 'array', items: ref(item) }, nextCursor: { type: 'string', description: 'Absent on the last page.' } },
});
const list = (item: string): Json => ({ type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref(item) } } });
const err = (description: string): Json => ({ description, ...json(ref('Error')) });
const retryable = (description: string): Json => ({ description, headers: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } }, ...json(ref('Error')) });

// ---- policy documents: the policy schema's $defs, hoisted -------------------------------------

interface PolicySchema {
  required: string[];
  properties: Record<string, Json>;
  allOf: Array<{ if?: { properties?: { kind?: { const?: string } } }; then?: { $ref?: string } }>;
  $defs: Record<string, Json>;
}
const policySchema = schemaJson as unknown as PolicySchema;

/** A deep copy with `#/$defs/X` references pointing at `#/components/schemas/X`. */
function hoisted<T>(value: T): T {
  return JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as T;
}

/**
 * One schema per kind (the top level's if/then dispatch on `kind`, made explicit so generators
 * see a union), under the name of the kind's $def, and ResourceDocument as their union.
 */
function policySchemas(): Record<string, Json> {
  const defs = hoisted(policySchema.$defs);
  const top = hoisted(policySchema.properties);
  const kinds: string[] = [];
  for (const branch of policySchema.allOf) {
    const kind = branch.if?.properties?.kind?.const;
    const name = branch.then?.$ref?.split('/').pop();
    if (!kind || !name || !defs[name]) continue;
    const def = defs[name] as { description?: string; properties?: { spec?: Json } };
    defs[name] = {
      title: name,
      ...(def.description ? { description: def.description } : {}),
      type: 'object',
      required: policySchema.required,
      additionalProperties: false,
      properties: { ...top, kind: { type: 'string', const: kind, description: (top.kind as Json | undefined)?.description }, spec: def.properties?.spec ?? top.spec },
    };
    kinds.push(name);
  }
  defs.ResourceDocument = { description: 'A policy-as-code document, as in the policy files (schema/emmctl.schema.json).', oneOf: kinds.map(ref) };
  return defs;
}

/** Only what the document references, so every component is used. */
function reachable(schemas: Record<string, Json>, roots: Json): Record<string, Json> {
  const out: Record<string, Json> = {};
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) {
        const name = v.slice('#/components/schemas/'.length);
        if (!(name in out) && schemas[name]) {
          out[name] = schemas[name]!;
          visit(schemas[name]);
        }
      } else visit(v);
    }
  };
  visit(roots);
  return out;
}

/** A request shape and a policy $def with one name must be one thing (Platform, Ownership). */
function merged(policy: Record<string, Json>, requests: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = { ...policy };
  for (const [name, shape] of Object.entries(requests)) {
    const other = policy[name];
    if (other && JSON.stringify([...((other.enum as string[]) ?? [])].sort()) !== JSON.stringify([...((shape.enum as string[]) ?? [])].sort())) {
      throw new Error(`OpenAPI: request shape ${name} differs from the policy schema's ${name}`);
    }
    out[name] = other ? { ...shape, ...(other.description ? { description: other.description } : {}) } : shape;
  }
  return out;
}

// ---- operations ---------------------------------------------------------------------------------

type Access = 'public' | 'device' | 'viewer' | 'operator' | 'admin';

interface OperationSpec {
  id: string;
  summary: string;
  description?: string;
  parameters?: Json[];
  body?: RequestShape;
  /** For bodies that may be left out (revoke, cancel). */
  bodyOptional?: boolean;
  responses: Record<string, Json>;
}

const ERR = {
  '400': err(`Invalid request: bad JSON (with its position), a body nested deeper than ${MAX_JSON_DEPTH} levels, an unknown or malformed field, a value over its limit, an unknown query parameter or filter`),
  '401admin': err('Missing, invalid, expired or revoked API token'),
  '401device': err('Missing or unknown device credential (agent routes never take API tokens)'),
  '403': err('The token\'s role is too low for this request'),
  '413': err('Body larger than 1 MiB'),
  '415': err('Body is not application/json'),
  '429': retryable('Rate limited; see Retry-After (seconds)'),
  '503': retryable('The store is busy; retry after Retry-After seconds'),
};

function op(access: Access, spec: OperationSpec): Json {
  const security = access === 'public' ? [] : access === 'device' ? [{ deviceCredential: [] }] : [{ apiToken: [] }];
  const hasBody = spec.body !== undefined;
  const errors: Record<string, Json> = { '400': ERR['400'] };
  if (access === 'device') errors['401'] = ERR['401device'];
  else if (access !== 'public') errors['401'] = ERR['401admin'];
  if (access === 'operator' || access === 'admin') errors['403'] = ERR['403'];
  if (hasBody) Object.assign(errors, { '413': ERR['413'], '415': ERR['415'] });
  if (access !== 'public') Object.assign(errors, { '429': ERR['429'], '503': ERR['503'] });
  const roleNote = access === 'viewer' || access === 'operator' || access === 'admin' ? `Needs the ${access} role or higher.` : undefined;
  return {
    operationId: spec.id,
    summary: spec.summary,
    ...(spec.description || roleNote ? { description: [roleNote, spec.description].filter(Boolean).join(' ') } : {}),
    security,
    ...(spec.parameters ? { parameters: spec.parameters } : {}),
    ...(hasBody ? { requestBody: { required: !spec.bodyOptional, ...json(ref(spec.body!)) } } : {}),
    responses: { ...spec.responses, ...errors, ...Object.fromEntries(Object.entries(spec.responses).filter(([k]) => k in errors)) },
  };
}

const idParam = (what: string): Json => ({ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: `${what} id` });
const q = (name: string, description: string, schema: Json = { type: 'string' }): Json => ({ name, in: 'query', required: false, schema, description });
const paging = [q('limit', 'Page size, 1–1000', { type: 'integer', minimum: 1, maximum: 1000 }), q('cursor', 'nextCursor of the previous page')];
const deviceQuery = [
  { name: 'filter', in: 'query', required: false, schema: { type: 'array', items: { type: 'string', maxLength: MAX_FILTER_TEXT_LENGTH } }, style: 'form', explode: true, description: `FIELD OP VALUE, repeatable: platform=android, os<14, label.team=sales, compliance!=compliant, owner=*@example.com; globs * and ? on name, serial, model, owner, label.KEY; a value is at most ${MAX_FILTER_VALUE_LENGTH} characters` },
  q('sort', 'name, platform, owner, osVersion, lastCheckIn, enrolledAt, state, id; - prefix for descending'),
  ...paging,
];

const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } };

const RESPONSE_SCHEMAS: Record<string, Json> = {
  // What a device last reported: the check-in's Posture, and for a device reached through a device
  // channel (Android Management API) the settings the channel says it did not apply.
  DevicePosture: {
    ...(REQUEST_SHAPES.Posture as unknown as Json),
    properties: {
      ...(REQUEST_SHAPES.Posture.properties as unknown as Json),
      channelFailures: {
        type: 'array',
        description: 'A device channel\'s own non-compliance details, judged as compliance failures (rule androidPolicy)',
        items: { type: 'object', required: ['policy', 'rule', 'expected', 'actual'], properties: { policy: { type: 'string' }, rule: { type: 'string' }, expected: { type: 'string' }, actual: { type: 'string' } } },
      },
    },
  },
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', enum: ['invalid', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'rate_limited', 'unavailable'] },
          message: { type: 'string' },
          hint: { type: 'string', description: 'What to do next, when the server knows.' },
          problems: { type: 'array', items: ref('Problem'), description: '422 from apply: every problem of the documents, as `emmctl validate` reports them.' },
          document: { type: 'string', description: '403 from apply: the document (Kind/name) whose change needs a higher role.' },
          change: { type: 'integer', description: '403 from apply: its index in changes.' },
          role: { type: 'string', description: '403 from apply: the role the change needs.' },
        },
      },
    },
  },
  Problem: {
    type: 'object',
    required: ['document', 'path', 'rule', 'message', 'severity'],
    properties: {
      document: { type: 'string', description: 'Kind/name of the document (the changed one, or a stored one the change affects).' },
      change: { type: 'integer', description: 'Index in changes, when the problem is in a changed document.' },
      path: { type: 'string', description: 'Dotted path in the document, e.g. spec.rules.encryption.' },
      rule: { type: 'string', description: 'Stable rule id, e.g. schema/enum, unknown-group.' },
      message: { type: 'string' },
      severity: { type: 'string', enum: ['error', 'warning'] },
    },
  },
  StoredResource: {
    type: 'object',
    required: ['kind', 'name', 'document', 'version', 'updatedAt'],
    properties: {
      kind: ref('ResourceKind'),
      name: { type: 'string' },
      document: { $ref: '#/components/schemas/ResourceDocument', description: 'As applied: secret fields hold their ${env:NAME} reference, never the value' },
      version: { type: 'integer' },
      updatedAt: { type: 'string', format: 'date-time' },
      secrets: {
        type: 'array',
        description: 'Each secret field: its path, its reference and a salted scrypt digest of the value (never the value)',
        items: { type: 'object', required: ['path', 'ref', 'digest'], properties: { path: { type: 'string' }, ref: { type: 'string' }, digest: { type: 'string' } } },
      },
    },
  },
  AppliedChange: {
    type: 'object',
    required: ['op', 'kind', 'name', 'version'],
    properties: { op: { type: 'string', enum: ['create', 'update', 'delete'] }, kind: ref('ResourceKind'), name: { type: 'string' }, version: { type: ['integer', 'null'] } },
  },
  EnrollmentToken: {
    type: 'object',
    required: ['id', 'profile', 'createdAt', 'expiresAt', 'uses', 'revoked', 'createdBy'],
    properties: {
      id: { type: 'string' },
      profile: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      expiresAt: { type: 'string', format: 'date-time' },
      maxUses: { type: 'integer' },
      uses: { type: 'integer' },
      revoked: { type: 'boolean' },
      createdBy: { type: 'string' },
    },
  },
  CreatedEnrollmentToken: {
    type: 'object',
    required: ['token', 'secret'],
    properties: {
      token: ref('EnrollmentToken'),
      secret: { type: 'string', description: 'Shown once.' },
      android: {
        type: 'object',
        description: 'On a server with the Android channel, for a profile that takes Android devices: Google\'s enrollment token',
        required: ['qrCode', 'tokenName', 'expiresAt'],
        properties: {
          qrCode: { type: 'string', description: 'The provisioning payload (JSON) a device scans; it holds Google\'s token value: shown once, never stored' },
          tokenName: { type: 'string', description: 'enterprises/{enterprise}/enrollmentTokens/{token}' },
          expiresAt: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
  Device: {
    type: 'object',
    required: ['id', 'name', 'platform', 'ownership', 'labels', 'state'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      serial: { type: 'string' },
      platform: ref('Platform'),
      ownership: ref('Ownership'),
      owner: { type: 'string' },
      labels: STRING_MAP,
      state: { type: 'string', enum: DEVICE_STATES },
      profile: { type: 'string' },
      model: { type: 'string' },
      osVersion: { type: 'string' },
      enrolledAt: { type: 'string', format: 'date-time' },
      lastCheckIn: { type: 'string', format: 'date-time' },
      posture: ref('DevicePosture'),
      releasedUntil: { type: 'string', format: 'date-time', description: 'End of the re-enrollment window an admin opened (POST /v1/devices/{id}/release); may lie in the past.' },
    },
  },
  DeviceDetail: {
    allOf: [
      ref('Device'),
      {
        type: 'object',
        required: ['groups', 'compliance', 'effectiveConfiguration', 'commands'],
        properties: {
          groups: { type: 'array', items: { type: 'string' } },
          compliance: ref('DeviceCompliance'),
          effectiveConfiguration: {
            type: 'object',
            required: ['version', 'settings', 'sources'],
            properties: { version: { type: 'string' }, settings: { type: 'object' }, sources: STRING_MAP },
          },
          commands: { type: 'array', items: ref('DeviceCommand') },
        },
      },
    ],
  },
  DeviceCompliance: {
    type: 'object',
    required: ['deviceId', 'name', 'platform', 'state', 'status', 'failures', 'policies'],
    properties: {
      deviceId: { type: 'string' },
      name: { type: 'string' },
      owner: { type: 'string' },
      platform: ref('Platform'),
      osVersion: { type: 'string' },
      state: { type: 'string', enum: DEVICE_STATES },
      status: { type: 'string', enum: COMPLIANCE_STATUSES },
      reason: { type: 'string', description: 'Why the status is unknown although policies apply: one of them cannot be evaluated.' },
      failures: {
        type: 'array',
        items: { type: 'object', required: ['policy', 'rule', 'expected', 'actual'], properties: { policy: { type: 'string' }, rule: { type: 'string' }, expected: { type: 'string' }, actual: { type: 'string' } } },
      },
      policies: { type: 'array', items: { type: 'string' } },
      lastCheckIn: { type: 'string', format: 'date-time' },
      noncompliantSince: { type: 'string', format: 'date-time' },
      stepsFired: { type: 'array', items: { type: 'object', required: ['policy', 'after', 'do', 'firedAt'], properties: { policy: { type: 'string' }, after: { type: 'string' }, do: { type: 'string' }, firedAt: { type: 'string', format: 'date-time' } } } },
      stepsDue: { type: 'array', items: { type: 'object', required: ['policy', 'after', 'do', 'dueAt'], properties: { policy: { type: 'string' }, after: { type: 'string' }, do: { type: 'string' }, dueAt: { type: 'string', format: 'date-time' } } } },
      nextAction: { type: 'string' },
      nextActionAt: { type: 'string', format: 'date-time' },
      nextActionPolicy: { type: 'string' },
      evaluatedAt: { type: 'string', format: 'date-time', description: 'Set on a what-if (the at parameter)' },
    },
  },
  DeviceCommand: {
    type: 'object',
    required: ['id', 'deviceId', 'type', 'status', 'requestedBy', 'createdAt', 'updatedAt'],
    properties: {
      id: { type: 'string' },
      deviceId: { type: 'string' },
      type: ref('CommandType'),
      status: { type: 'string', enum: COMMAND_STATUSES },
      reason: { type: 'string' },
      requestedBy: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      detail: { type: 'string' },
      expiresAt: { type: 'string', format: 'date-time' },
    },
  },
  EnqueueResult: {
    type: 'object',
    required: ['results'],
    properties: {
      results: {
        type: 'array',
        items: {
          type: 'object',
          required: ['deviceId', 'outcome'],
          properties: { deviceId: { type: 'string' }, outcome: { type: 'string', enum: ['queued', 'pending', 'skipped'] }, command: ref('DeviceCommand'), message: { type: 'string' } },
        },
      },
    },
  },
  AuditRecord: {
    type: 'object',
    required: ['id', 'at', 'actor', 'source', 'action', 'target'],
    properties: {
      id: { type: 'string' },
      at: { type: 'string', format: 'date-time' },
      actor: { type: 'string' },
      source: { type: 'string' },
      action: { type: 'string' },
      target: { type: 'string' },
      detail: { type: 'object' },
    },
  },
  ApiToken: {
    type: 'object',
    required: ['id', 'name', 'role', 'createdAt', 'revoked'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      role: ref('ApiRole'),
      createdAt: { type: 'string', format: 'date-time' },
      expiresAt: { type: 'string', format: 'date-time' },
      lastUsedAt: { type: 'string', format: 'date-time' },
      revoked: { type: 'boolean' },
    },
  },
  EnrollResponse: {
    type: 'object',
    required: ['deviceId', 'credential', 'checkInIntervalSeconds'],
    properties: { deviceId: { type: 'string' }, credential: { type: 'string', description: 'Shown once.' }, checkInIntervalSeconds: { type: 'integer' } },
  },
  CheckInResponse: {
    type: 'object',
    required: ['deviceId', 'configuration', 'commands', 'checkInIntervalSeconds'],
    properties: {
      deviceId: { type: 'string' },
      configuration: { type: 'object', required: ['version', 'settings'], properties: { version: { type: 'string' }, settings: { type: 'object' } } },
      commands: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'type', 'createdAt'],
          properties: { id: { type: 'string' }, type: ref('CommandType'), reason: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' } },
        },
      },
      checkInIntervalSeconds: { type: 'integer' },
    },
  },
};

const PATHS = {
  '/healthz': {
    get: op('public', { id: 'getHealth', summary: 'Liveness (no auth)', responses: { '200': ok('The server is up', { type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ok' } } }) } }),
  },
  '/readyz': {
    get: op('public', {
      id: 'getReadiness',
      summary: 'Readiness (no auth): the server can reach its database',
      responses: {
        '200': ok('Ready to serve', { type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ready' } } }),
        '503': ERR['503'],
      },
    }),
  },
  '/v1/openapi.json': {
    get: op('public', { id: 'getOpenApi', summary: 'This document (no auth)', responses: { '200': ok('OpenAPI 3.1 document', { type: 'object' }) } }),
  },
  '/v1/whoami': {
    get: op('viewer', {
      id: 'whoami',
      summary: 'The calling token, and the store this server serves',
      responses: { '200': ok('Name, role and store id', { type: 'object', required: ['name', 'role', 'storeId'], properties: { name: { type: 'string' }, role: ref('ApiRole'), storeId: { type: 'string', description: 'Random id created with the store; saved plans are bound to it' }, notifyChannels: { type: 'integer', minimum: 0, description: 'How many notification channels the server delivers escalation events to' }, channels: { type: 'array', items: { type: 'string', enum: ['android'] }, description: 'Device channels besides the emmctl agent this server runs (android: Google\'s Android Management API)' } } }) },
    }),
  },
  '/v1/plans/seal': {
    post: op('viewer', {
      id: 'sealPlan',
      summary: 'Seal a saved plan digest with the store key',
      description: 'HMAC-SHA256 of the digest under a key that never leaves the store; `apply --plan` asks again and compares, so an edited plan or one made for another store is refused.',
      body: 'SealPlanRequest',
      responses: { '200': ok('The seal', { type: 'object', required: ['seal'], properties: { seal: { type: 'string' } } }) },
    }),
  },
  '/v1/resources': {
    get: op('viewer', { id: 'listResources', summary: 'List stored resources', parameters: [q('kind', 'Only this kind', ref('ResourceKind'))], responses: { '200': ok('Resources', list('StoredResource')) } }),
  },
  '/v1/resources/apply': {
    post: op('operator', {
      id: 'applyResources',
      summary: 'Apply an ordered change set atomically',
      description:
        'Deletions and prune need admin; a change whose effect can queue a command needs the role of that command (a CompliancePolicy with a retire step, or a Group or EnrollmentProfile such a policy reaches: admin). Every document is checked as `emmctl validate` checks files. Nothing is applied unless every change is.',
      parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 }, description: 'With it, a retry of an apply that landed gets its first result.' }],
      body: 'ApplyRequest',
      responses: {
        '200': ok('Applied changes', { type: 'object', required: ['applied'], properties: { applied: { type: 'array', items: ref('AppliedChange') } } }),
        '403': err('The token\'s role is too low: for prune or a deletion, or for a change whose effect can queue a command that needs a higher role (error.document names it)'),
        '409': err('Stale version: the resource changed since the plan; or the Idempotency-Key was used for a different apply'),
        '422': err('A document fails the policy checks: error.problems lists each (path, rule, message)'),
      },
    }),
  },
  '/v1/enrollment-tokens': {
    get: op('viewer', { id: 'listEnrollmentTokens', summary: 'List enrollment tokens', responses: { '200': ok('Tokens (no secrets)', list('EnrollmentToken')) } }),
    post: op('operator', {
      id: 'createEnrollmentToken',
      summary: 'Create an enrollment token',
      body: 'CreateEnrollmentTokenRequest',
      responses: { '200': ok('The token and its secret (shown once)', ref('CreatedEnrollmentToken')), '404': err('No such enrollment profile') },
    }),
  },
  '/v1/enrollment-tokens/{id}/revoke': {
    post: op('operator', { id: 'revokeEnrollmentToken', summary: 'Revoke an enrollment token', parameters: [idParam('Enrollment token')], body: 'EmptyRequest', bodyOptional: true, responses: { '200': ok('The revoked token', ref('EnrollmentToken')), '404': err('No such token') } }),
  },
  '/v1/devices/preregister': {
    post: op('operator', {
      id: 'preregisterDevices',
      summary: 'Pre-register devices by serial',
      body: 'PreregisterRequest',
      responses: { '200': ok('Counts', { type: 'object', required: ['created', 'updated'], properties: { created: { type: 'integer' }, updated: { type: 'integer' } } }) },
    }),
  },
  '/v1/devices': {
    get: op('viewer', { id: 'listDevices', summary: 'List devices (filtered, sorted, paged)', parameters: deviceQuery, responses: { '200': ok('A page of devices', page('Device')) } }),
  },
  '/v1/devices/{id}': {
    get: op('viewer', {
      id: 'getDevice',
      summary: 'One device with groups, compliance, effective configuration and commands',
      parameters: [idParam('Device')],
      responses: { '200': ok('The device', ref('DeviceDetail')), '404': err('No such device') },
    }),
  },
  '/v1/devices/{id}/release': {
    post: op('admin', {
      id: 'releaseDevice',
      summary: 'Release an enrolled device for re-enrollment',
      description: 'Until the window ends (default 24 h), the next enrollment with the device\'s serial takes the record over: new credential, pending commands cancelled. Without a release, an enrollment with the serial of an enrolled device is 409.',
      parameters: [idParam('Device')],
      body: 'ReleaseDeviceRequest',
      bodyOptional: true,
      responses: { '200': ok('The device, with releasedUntil', ref('Device')), '404': err('No such device'), '409': err('The device is not enrolled (pre-registered, wiped and retired devices enroll without a release)') },
    }),
  },
  '/v1/compliance': {
    get: op('viewer', { id: 'listCompliance', summary: 'Compliance per device (filtered, sorted, paged)', parameters: [...deviceQuery, q('at', 'What-if, read-only: evaluate at this ISO-8601 time (with zone) or +DURATION from now (+3d); never in the past')], responses: { '200': ok('A page of compliance rows', page('DeviceCompliance')) } }),
  },
  '/v1/commands': {
    get: op('viewer', {
      id: 'listCommands',
      summary: 'List commands',
      parameters: [q('deviceId', 'Only this device'), q('status', 'Only this status', { type: 'string', enum: COMMAND_STATUSES }), q('type', 'Only this type', ref('CommandType')), ...paging],
      responses: { '200': ok('A page of commands', page('DeviceCommand')) },
    }),
    post: op('operator', {
      id: 'enqueueCommands',
      summary: 'Queue a command for devices',
      description: 'lock and reboot need the operator role; wipe and retire need admin. The Idempotency-Key header is required: the same key returns the first result instead of queueing again.',
      parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 }, description: 'Any unique string, reused when retrying the same request.' }],
      body: 'EnqueueRequest',
      responses: { '200': ok('One outcome per device', ref('EnqueueResult')), '404': err('A device id that does not exist'), '409': err('The Idempotency-Key was used for a different request') },
    }),
  },
  '/v1/commands/{id}': {
    get: op('viewer', { id: 'getCommand', summary: 'One command', parameters: [idParam('Command')], responses: { '200': ok('The command', ref('DeviceCommand')), '404': err('No such command') } }),
  },
  '/v1/commands/{id}/cancel': {
    post: op('operator', {
      id: 'cancelCommand',
      summary: 'Cancel a queued or sent command',
      parameters: [idParam('Command')],
      body: 'EmptyRequest',
      bodyOptional: true,
      responses: { '200': ok('The cancelled command', ref('DeviceCommand')), '404': err('No such command'), '409': err('The command is already final') },
    }),
  },
  '/v1/audit': {
    get: op('viewer', {
      id: 'listAudit',
      summary: 'Read the audit log',
      parameters: [q('since', 'ISO-8601 time; records at or after it', { type: 'string', format: 'date-time' }), q('actor', 'Only this actor'), q('order', 'asc (default): oldest first; desc: newest first', { type: 'string', enum: ['asc', 'desc'] }), ...paging],
      responses: { '200': ok('A page of audit records', page('AuditRecord')) },
    }),
  },
  '/v1/tokens': {
    get: op('admin', { id: 'listApiTokens', summary: 'List API tokens', responses: { '200': ok('Tokens (no secrets)', list('ApiToken')) } }),
    post: op('admin', {
      id: 'createApiToken',
      summary: 'Create an API token',
      body: 'CreateApiTokenRequest',
      responses: { '200': ok('The token and its secret (shown once)', { type: 'object', required: ['token', 'secret'], properties: { token: ref('ApiToken'), secret: { type: 'string' } } }) },
    }),
  },
  '/v1/tokens/{id}/revoke': {
    post: op('admin', { id: 'revokeApiToken', summary: 'Revoke an API token', parameters: [idParam('API token')], body: 'EmptyRequest', bodyOptional: true, responses: { '200': ok('The revoked token', ref('ApiToken')), '404': err('No such token') } }),
  },
  '/v1/agent/enroll': {
    post: {
      ...op('public', {
        id: 'enrollDevice',
        summary: 'Enroll a device with an enrollment token (no Authorization header; rate-limited per client address)',
        body: 'EnrollRequest',
        responses: {
          '200': ok('Device id and credential (shown once)', ref('EnrollResponse')),
          '401': err('Unknown, expired, revoked or used-up enrollment token'),
          '409': err('The serial belongs to an enrolled device (not released by an admin), or is pre-registered for another platform or ownership than the token\'s profile'),
          '429': ERR['429'],
          '503': ERR['503'],
        },
      }),
    },
  },
  '/v1/agent/checkin': {
    post: op('device', { id: 'checkIn', summary: 'Report posture; receive the effective configuration and pending commands (now marked sent)', body: 'CheckInRequest', responses: { '200': ok('Configuration and commands', ref('CheckInResponse')) } }),
  },
  '/v1/agent/commands/{id}/result': {
    post: op('device', {
      id: 'reportCommandResult',
      summary: 'Report the result of a command',
      parameters: [idParam('Command')],
      body: 'CommandResultReport',
      responses: { '204': { description: 'Recorded (a repeated identical report is accepted)' }, '404': err('No such command for this device'), '409': err('The command is already final with another status') },
    }),
  },
  '/v1/android/pubsub': {
    post: {
      ...op('public', {
        id: 'androidPubSubPush',
        summary: 'Cloud Pub/Sub push of an Android Management API notification',
        description:
          'Only on a server started with --android-enterprise, --pubsub-audience and --pubsub-service-account. Authenticated by the OIDC token Pub/Sub signs for the push subscription (Authorization: Bearer …): Google\'s key, issuer accounts.google.com, the configured audience and service account e-mail. ENROLLMENT and STATUS_REPORT carry a Device, COMMAND an Operation (docs/android.md). A 2xx acknowledges the message; any other answer makes Pub/Sub push it again.',
        responses: {
          '204': { description: 'Taken (a device out of shape is skipped and logged, not refused: Pub/Sub would push it forever)' },
          '401': err('No OIDC token, or one that is not Google\'s for this audience and service account'),
          '403': err('The push names another subscription than --pubsub-subscription'),
          '404': err('This server takes no Pub/Sub pushes'),
          '413': err('Body larger than 1 MiB of notification data (as base64) and its envelope'),
          '415': ERR['415'],
          '503': ERR['503'],
        },
      }),
      requestBody: {
        required: true,
        ...json({
          type: 'object',
          required: ['message', 'subscription'],
          properties: {
            message: {
              type: 'object',
              required: ['messageId'],
              properties: {
                data: { type: 'string', description: 'Base64 of the notification (JSON), at most 1 MiB decoded' },
                attributes: { type: 'object', properties: { notificationType: { type: 'string', enum: ['ENROLLMENT', 'STATUS_REPORT', 'COMMAND', 'USAGE_LOGS', 'ENTERPRISE_UPGRADE', 'TEST'] } }, additionalProperties: { type: 'string' } },
                messageId: { type: 'string', maxLength: 128 },
                publishTime: { type: 'string', format: 'date-time' },
              },
            },
            subscription: { type: 'string', description: 'projects/{project}/subscriptions/{subscription}' },
          },
        }),
      },
    },
  },
};

const policyDefs = policySchemas();
const ALL_SCHEMAS = { ...merged(policyDefs, REQUEST_SHAPES as unknown as Record<string, Json>), ...RESPONSE_SCHEMAS };
const SCHEMAS = reachable(ALL_SCHEMAS, PATHS);

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'emmctl server',
    version: '1',
    description:
      'Admin REST API (API tokens: Authorization: Bearer <token>; roles viewer < operator < admin) and device agent API (Authorization: Device <credential>) over the emmctl store. JSON only. Errors are {"error":{"code","message"}}.',
    license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
  },
  servers: [{ url: 'http://127.0.0.1:8787', description: 'emmctl server on its default --listen address; use the address your server listens on' }],
  components: {
    securitySchemes: {
      apiToken: { type: 'http', scheme: 'bearer', description: 'An API token from `emmctl server token create` or POST /v1/tokens.' },
      deviceCredential: { type: 'apiKey', in: 'header', name: 'Authorization', description: '`Device <credential>`, issued once at enrollment.' },
    },
    schemas: SCHEMAS,
  },
  paths: PATHS,
};
