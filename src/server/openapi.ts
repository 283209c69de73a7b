// The OpenAPI 3.1 description of every route, as data. test/server/openapi.test.ts checks it
// against the router's table both ways (every route documented, every documented path routed).
import { MAX_FILTER_TEXT_LENGTH, MAX_FILTER_VALUE_LENGTH } from '../model/filter.js';

import { DEVICE_LIMITS, LABEL_LIMITS } from '../agent/limits.js';
import { MAX_RELEASE_SECONDS } from '../store/api.js';

type Json = Record<string, unknown>;
/** A string a device sends, with its bound (src/agent/limits.ts). */
const text = (key: keyof typeof DEVICE_LIMITS, extra: Json = {}): Json => ({ type: 'string', maxLength: DEVICE_LIMITS[key], ...extra });

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

const ADMIN_ERRORS = {
  '400': err('Invalid request (bad JSON with its position, bad field, bad filter)'),
  '401': err('Missing, invalid, expired or revoked API token'),
  '403': err('The token\'s role is too low'),
  '415': err('Body is not application/json'),
  '413': err('Body larger than 1 MiB'),
  '429': { description: 'Rate limited; see Retry-After (seconds)', headers: { 'Retry-After': { schema: { type: 'integer' } } }, ...json(ref('Error')) },
};
const AGENT_ERRORS = {
  '400': ADMIN_ERRORS['400'],
  '401': err('Missing or unknown device credential (agent routes never take API tokens)'),
  '413': ADMIN_ERRORS['413'],
  '415': ADMIN_ERRORS['415'],
  '429': ADMIN_ERRORS['429'],
};

const bearer = [{ apiToken: [] }];
const device = [{ deviceCredential: [] }];
const idParam = (what: string): Json => ({ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: `${what} id` });
const q = (name: string, description: string, schema: Json = { type: 'string' }): Json => ({ name, in: 'query', required: false, schema, description });
const paging = [q('limit', 'Page size, 1–1000', { type: 'integer', minimum: 1, maximum: 1000 }), q('cursor', 'nextCursor of the previous page')];
const deviceQuery = [
  { name: 'filter', in: 'query', required: false, schema: { type: 'array', items: { type: 'string', maxLength: MAX_FILTER_TEXT_LENGTH } }, style: 'form', explode: true, description: `FIELD OP VALUE, repeatable: platform=android, os<14, label.team=sales, compliance!=compliant, owner=*@example.com; globs * and ? on name, serial, model, owner, label.KEY; a value is at most ${MAX_FILTER_VALUE_LENGTH} characters` },
  q('sort', 'name, platform, owner, osVersion, lastCheckIn, enrolledAt, status; - prefix for descending'),
  ...paging,
];

function op(summary: string, role: string | undefined, extra: Json, errors: Json = ADMIN_ERRORS): Json {
  return {
    summary,
    ...(role ? { description: `Needs the ${role} role or higher.`, security: bearer } : {}),
    ...extra,
    responses: { ...(extra.responses as Json), ...errors },
  };
}

const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } };

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'emmctl server',
    version: '1',
    description:
      'Admin REST API (API tokens: Authorization: Bearer <token>; roles viewer < operator < admin) and device agent API (Authorization: Device <credential>) over the emmctl store. JSON only. Errors are {"error":{"code","message"}}.',
  },
  components: {
    securitySchemes: {
      apiToken: { type: 'http', scheme: 'bearer', description: 'An API token from `emmctl server token create` or POST /v1/tokens.' },
      deviceCredential: { type: 'apiKey', in: 'header', name: 'Authorization', description: '`Device <credential>`, issued once at enrollment.' },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { enum: ['invalid', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'rate_limited', 'unavailable'] },
              message: { type: 'string' },
              hint: { type: 'string', description: 'What to do next, when the server knows.' },
            },
          },
        },
      },
      ResourceDocument: { type: 'object', description: 'A policy-as-code document (see schema/emmctl.schema.json)', required: ['apiVersion', 'kind', 'metadata', 'spec'] },
      ResourceKind: { enum: ['Group', 'Policy', 'CompliancePolicy', 'EnrollmentProfile'] },
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
      ResourceChange: {
        type: 'object',
        required: ['op', 'kind', 'name'],
        properties: {
          op: { enum: ['create', 'update', 'delete'] },
          kind: ref('ResourceKind'),
          name: { type: 'string' },
          document: ref('ResourceDocument'),
          expectedVersion: { type: 'integer', description: 'Required for update and delete; a mismatch is 409 conflict.' },
          secrets: {
            type: 'object',
            additionalProperties: { type: 'string' },
            description: 'The value of each ${env:NAME} reference in the document, by its path (spec.settings.wifi[0].password); kept apart and given only to devices',
          },
        },
      },
      AppliedChange: {
        type: 'object',
        required: ['op', 'kind', 'name', 'version'],
        properties: { op: { enum: ['create', 'update', 'delete'] }, kind: ref('ResourceKind'), name: { type: 'string' }, version: { type: ['integer', 'null'] } },
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
      CreatedEnrollmentToken: { type: 'object', required: ['token', 'secret'], properties: { token: ref('EnrollmentToken'), secret: { type: 'string', description: 'Shown once.' } } },
      PreregisteredDevice: {
        type: 'object',
        required: ['serial', 'platform'],
        properties: {
          serial: text('serial'),
          platform: ref('Platform'),
          ownership: ref('Ownership'),
          owner: text('owner'),
          name: text('name'),
          labels: { type: 'object', maxProperties: LABEL_LIMITS.count, propertyNames: { maxLength: LABEL_LIMITS.key }, additionalProperties: { type: 'string', maxLength: LABEL_LIMITS.value } },
        },
      },
      Platform: { enum: ['android', 'ios', 'ipados', 'macos', 'windows'] },
      Ownership: { enum: ['corporate', 'personal'] },
      Posture: {
        type: 'object',
        required: ['osVersion', 'encrypted', 'passcodeSet', 'compromised', 'installedApps'],
        properties: {
          osVersion: text('osVersion', { minLength: 1 }),
          patchLevel: { type: 'string', description: 'YYYY-MM-DD', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
          model: text('model'),
          serial: text('serial'),
          encrypted: { type: 'boolean' },
          passcodeSet: { type: 'boolean' },
          compromised: { type: 'boolean' },
          installedApps: { type: 'array', maxItems: DEVICE_LIMITS.installedApps, items: text('appId') },
          appliedConfigVersion: text('appliedConfigVersion'),
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
          state: { enum: ['preregistered', 'enrolled', 'wiped', 'retired'] },
          profile: { type: 'string' },
          model: { type: 'string' },
          osVersion: { type: 'string' },
          enrolledAt: { type: 'string', format: 'date-time' },
          lastCheckIn: { type: 'string', format: 'date-time' },
          posture: ref('Posture'),
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
          state: { type: 'string' },
          status: { enum: ['compliant', 'noncompliant', 'in-grace', 'unknown'] },
          failures: {
            type: 'array',
            items: { type: 'object', required: ['policy', 'rule', 'expected', 'actual'], properties: { policy: { type: 'string' }, rule: { type: 'string' }, expected: { type: 'string' }, actual: { type: 'string' } } },
          },
          policies: { type: 'array', items: { type: 'string' } },
          lastCheckIn: { type: 'string', format: 'date-time' },
          noncompliantSince: { type: 'string', format: 'date-time' },
        },
      },
      CommandType: { enum: ['lock', 'reboot', 'wipe', 'retire'] },
      DeviceCommand: {
        type: 'object',
        required: ['id', 'deviceId', 'type', 'status', 'requestedBy', 'createdAt', 'updatedAt'],
        properties: {
          id: { type: 'string' },
          deviceId: { type: 'string' },
          type: ref('CommandType'),
          status: { enum: ['queued', 'sent', 'acknowledged', 'failed', 'expired', 'cancelled'] },
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
              properties: { deviceId: { type: 'string' }, outcome: { enum: ['queued', 'pending', 'skipped'] }, command: ref('DeviceCommand'), message: { type: 'string' } },
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
      ApiRole: { enum: ['viewer', 'operator', 'admin'] },
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
      EnrollRequest: {
        type: 'object',
        required: ['token', 'platform', 'serial', 'osVersion'],
        properties: {
          token: text('token', { minLength: 1, description: 'The enrollment token secret.' }),
          platform: ref('Platform'),
          serial: text('serial', { minLength: 1 }),
          name: text('name'),
          model: text('model'),
          owner: text('owner'),
          ownership: ref('Ownership'),
          osVersion: text('osVersion', { minLength: 1 }),
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
    },
  },
  paths: {
    '/healthz': {
      get: { summary: 'Liveness (no auth)', responses: { '200': ok('The server is up', { type: 'object', properties: { status: { const: 'ok' } } }) } },
    },
    '/v1/openapi.json': {
      get: { summary: 'This document (no auth)', responses: { '200': ok('OpenAPI 3.1 document', { type: 'object' }) } },
    },
    '/v1/whoami': {
      get: op('The calling token, and the store this server serves', 'viewer', { responses: { '200': ok('Name, role and store id', { type: 'object', required: ['name', 'role', 'storeId'], properties: { name: { type: 'string' }, role: ref('ApiRole'), storeId: { type: 'string', description: 'Random id created with the store; saved plans are bound to it' } } }) } }),
    },
    '/v1/resources': {
      get: op('List stored resources', 'viewer', { parameters: [q('kind', 'Only this kind', ref('ResourceKind'))], responses: { '200': ok('Resources', list('StoredResource')) } }),
    },
    '/v1/plans/seal': {
      post: op('Seal a saved plan digest with the store key', 'viewer', {
        description: 'HMAC-SHA256 of the digest under a key that never leaves the store; `apply --plan` asks again and compares, so an edited plan or one made for another store is refused.',
        requestBody: { required: true, ...json({ type: 'object', required: ['digest'], additionalProperties: false, properties: { digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } } }) },
        responses: { '200': ok('The seal', { type: 'object', required: ['seal'], properties: { seal: { type: 'string' } } }) },
      }),
    },
    '/v1/resources/apply': {
      post: op('Apply an ordered change set atomically', 'operator', {
        description: 'Needs the operator role; deletions and prune need admin. A stale expectedVersion is 409 conflict and nothing is applied. With an Idempotency-Key header, a retry of an apply that landed gets its first result.',
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 } }],
        requestBody: { required: true, ...json({ type: 'object', required: ['changes'], properties: { changes: { type: 'array', items: ref('ResourceChange') }, prune: { type: 'boolean' } } }) },
        responses: { '200': ok('Applied changes', { type: 'object', required: ['applied'], properties: { applied: { type: 'array', items: ref('AppliedChange') } } }), '409': err('Stale version: the resource changed since the plan') },
      }),
    },
    '/v1/enrollment-tokens': {
      get: op('List enrollment tokens', 'viewer', { responses: { '200': ok('Tokens (no secrets)', list('EnrollmentToken')) } }),
      post: op('Create an enrollment token', 'operator', {
        requestBody: { required: true, ...json({ type: 'object', required: ['profile'], properties: { profile: { type: 'string' }, expiresInSeconds: { type: 'integer', minimum: 1 }, maxUses: { type: 'integer', minimum: 1 } } }) },
        responses: { '200': ok('The token and its secret (shown once)', ref('CreatedEnrollmentToken')), '404': err('No such enrollment profile') },
      }),
    },
    '/v1/enrollment-tokens/{id}/revoke': {
      post: op('Revoke an enrollment token', 'operator', { parameters: [idParam('Enrollment token')], responses: { '200': ok('The revoked token', ref('EnrollmentToken')), '404': err('No such token') } }),
    },
    '/v1/devices/preregister': {
      post: op('Pre-register devices by serial', 'operator', {
        requestBody: { required: true, ...json({ type: 'object', required: ['devices'], properties: { devices: { type: 'array', items: ref('PreregisteredDevice') } } }) },
        responses: { '200': ok('Counts', { type: 'object', required: ['created', 'updated'], properties: { created: { type: 'integer' }, updated: { type: 'integer' } } }) },
      }),
    },
    '/v1/devices': {
      get: op('List devices (filtered, sorted, paged)', 'viewer', { parameters: deviceQuery, responses: { '200': ok('A page of devices', page('Device')) } }),
    },
    '/v1/devices/{id}': {
      get: op('One device with groups, compliance, effective configuration and commands', 'viewer', {
        parameters: [idParam('Device')],
        responses: { '200': ok('The device', ref('DeviceDetail')), '404': err('No such device') },
      }),
    },
    '/v1/devices/{id}/release': {
      post: op('Release an enrolled device for re-enrollment', 'admin', {
        description: 'Needs the admin role. Until the window ends (default 24 h), the next enrollment with the device\'s serial takes the record over: new credential, pending commands cancelled. Without a release, an enrollment with the serial of an enrolled device is 409.',
        parameters: [idParam('Device')],
        requestBody: { required: false, ...json({ type: 'object', properties: { expiresInSeconds: { type: 'integer', minimum: 1, maximum: MAX_RELEASE_SECONDS } } }) },
        responses: { '200': ok('The device, with releasedUntil', ref('Device')), '404': err('No such device'), '409': err('The device is not enrolled (pre-registered, wiped and retired devices enroll without a release)') },
      }),
    },
    '/v1/compliance': {
      get: op('Compliance per device (filtered, sorted, paged)', 'viewer', { parameters: deviceQuery, responses: { '200': ok('A page of compliance rows', page('DeviceCompliance')) } }),
    },
    '/v1/commands': {
      get: op('List commands', 'viewer', {
        parameters: [q('deviceId', 'Only this device'), q('status', 'Only this status'), q('type', 'Only this type', ref('CommandType')), ...paging],
        responses: { '200': ok('A page of commands', page('DeviceCommand')) },
      }),
      post: op('Queue a command for devices', 'operator', {
        description: 'lock and reboot need the operator role; wipe and retire need admin. The Idempotency-Key header is required: the same key returns the first result instead of queueing again.',
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', maxLength: 200 } }],
        requestBody: { required: true, ...json({ type: 'object', required: ['deviceIds', 'type'], properties: { deviceIds: { type: 'array', items: { type: 'string' }, minItems: 1 }, type: ref('CommandType'), reason: { type: 'string' } } }) },
        responses: { '200': ok('One outcome per device', ref('EnqueueResult')) },
      }),
    },
    '/v1/commands/{id}': {
      get: op('One command', 'viewer', { parameters: [idParam('Command')], responses: { '200': ok('The command', ref('DeviceCommand')), '404': err('No such command') } }),
    },
    '/v1/commands/{id}/cancel': {
      post: op('Cancel a queued or sent command', 'operator', {
        parameters: [idParam('Command')],
        responses: { '200': ok('The cancelled command', ref('DeviceCommand')), '404': err('No such command'), '409': err('The command is already final') },
      }),
    },
    '/v1/audit': {
      get: op('Read the audit log', 'viewer', {
        parameters: [q('since', 'ISO-8601 time; records at or after it', { type: 'string', format: 'date-time' }), q('actor', 'Only this actor'), q('order', 'asc (default): oldest first; desc: newest first', { type: 'string', enum: ['asc', 'desc'] }), ...paging],
        responses: { '200': ok('A page of audit records', page('AuditRecord')) },
      }),
    },
    '/v1/tokens': {
      get: op('List API tokens', 'admin', { responses: { '200': ok('Tokens (no secrets)', list('ApiToken')) } }),
      post: op('Create an API token', 'admin', {
        requestBody: { required: true, ...json({ type: 'object', required: ['name', 'role'], properties: { name: { type: 'string' }, role: ref('ApiRole'), expiresInSeconds: { type: 'integer', minimum: 1 } } }) },
        responses: { '200': ok('The token and its secret (shown once)', { type: 'object', required: ['token', 'secret'], properties: { token: ref('ApiToken'), secret: { type: 'string' } } }) },
      }),
    },
    '/v1/tokens/{id}/revoke': {
      post: op('Revoke an API token', 'admin', { parameters: [idParam('API token')], responses: { '200': ok('The revoked token', ref('ApiToken')), '404': err('No such token') } }),
    },
    '/v1/agent/enroll': {
      post: {
        summary: 'Enroll a device with an enrollment token (no Authorization header; rate-limited per client address)',
        requestBody: { required: true, ...json(ref('EnrollRequest')) },
        // The 401 keeps its place among AGENT_ERRORS' keys, only its description differs.
        responses: {
          '200': ok('Device id and credential (shown once)', ref('EnrollResponse')),
          ...AGENT_ERRORS,
          '401': err('Unknown, expired, revoked or used-up enrollment token'),
          '409': err('The serial belongs to an enrolled device (not released by an admin), or is pre-registered for another platform or ownership than the token\'s profile'),
        },
      },
    },
    '/v1/agent/checkin': {
      post: {
        summary: 'Report posture; receive the effective configuration and pending commands (now marked sent)',
        security: device,
        requestBody: { required: true, ...json({ type: 'object', required: ['posture'], properties: { posture: ref('Posture') } }) },
        responses: { '200': ok('Configuration and commands', ref('CheckInResponse')), ...AGENT_ERRORS },
      },
    },
    '/v1/agent/commands/{id}/result': {
      post: {
        summary: 'Report the result of a command',
        security: device,
        parameters: [idParam('Command')],
        requestBody: { required: true, ...json({ type: 'object', required: ['status'], properties: { status: { enum: ['acknowledged', 'failed'] }, detail: text('detail') } }) },
        responses: { '204': { description: 'Recorded (a repeated identical report is accepted)' }, '404': err('No such command for this device'), '409': err('The command is already final with another status'), ...AGENT_ERRORS },
      },
    },
  },
} as const;
