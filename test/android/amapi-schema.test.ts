// The body check the Android tests lean on: Google's discovery schemas as JSON Schema. Real bodies
// pass; a misspelled field, a wrong enum value, a wrong type or a number where the wire format
// wants a string each fail with the path and a message that says what is wrong.
import { describe, expect, it } from 'vitest';
import { checkAmapi, convertSchema, discovery, specsAvailable } from './amapi-schema.js';
import { amapiDevice, amapiEnrollmentToken, amapiOperation, amapiPolicy, workProfileDevice } from './fixtures.js';

describe('discovery schema conversion (no specs needed)', () => {
  it('closes objects that declare properties, keeps maps open to their value type, and lets any be anything', () => {
    expect(convertSchema({ type: 'object', properties: { a: { type: 'boolean' } } }, 'X')).toEqual({ type: 'object', properties: { a: { type: 'boolean' } }, additionalProperties: false });
    expect(convertSchema({ type: 'object', additionalProperties: { type: 'string' } }, 'X')).toEqual({ type: 'object', additionalProperties: { type: 'string' } });
    expect(convertSchema({ type: 'any' }, 'X')).toEqual({});
    expect(convertSchema({ $ref: 'Policy' }, 'X')).toEqual({ $ref: '#/definitions/Policy' });
  });

  it('writes 64-bit integers, durations and timestamps as the string forms of proto3 JSON', () => {
    expect(convertSchema({ type: 'string', format: 'int64' }, 'X')).toMatchObject({ type: 'string', pattern: expect.any(String) });
    expect(convertSchema({ type: 'integer', format: 'int32' }, 'X')).toEqual({ type: 'integer', minimum: -2147483648, maximum: 2147483647 });
  });

  it('refuses a form it does not know rather than letting anything through', () => {
    expect(() => convertSchema({ type: 'string', format: 'uuid-v9' }, 'X.y')).toThrow('X.y: string format uuid-v9 is not converted');
    expect(() => convertSchema({ type: 'tuple' }, 'X.z')).toThrow('X.z: type tuple is not converted');
  });
});

describe.skipIf(!specsAvailable())('checkAmapi against Google\'s discovery document', () => {
  it('reads the document the README lists (androidmanagement v1) and converts every one of its schemas', () => {
    const doc = discovery();
    expect(Object.keys(doc.schemas).length).toBeGreaterThan(100);
    for (const name of ['Policy', 'Device', 'EnrollmentToken', 'Operation', 'Command', 'Status', 'NonComplianceDetail']) expect(doc.schemas).toHaveProperty(name);
    // Compiling every schema proves the whole conversion is valid JSON Schema under ajv strict mode.
    for (const name of Object.keys(doc.schemas)) expect(() => checkAmapi(name, {}), name).not.toThrow();
  });

  it('accepts real Policy, Device, EnrollmentToken and Operation bodies', () => {
    expect(checkAmapi('Policy', amapiPolicy())).toEqual([]);
    expect(checkAmapi('Device', amapiDevice())).toEqual([]);
    expect(checkAmapi('Device', workProfileDevice())).toEqual([]);
    expect(checkAmapi('EnrollmentToken', amapiEnrollmentToken())).toEqual([]);
    expect(checkAmapi('Operation', amapiOperation())).toEqual([]);
    expect(checkAmapi('Operation', amapiOperation({ done: true, response: undefined, error: { code: 9, message: 'device is offline', details: [] } }))).toEqual([]);
    expect(checkAmapi('Command', { type: 'REBOOT' })).toEqual([]);
  });

  it('fails a misspelled field, naming it and the field it was probably meant to be', () => {
    const policy = amapiPolicy();
    policy.passwordPolicy = policy.passwordPolicies;
    delete policy.passwordPolicies;
    expect(checkAmapi('Policy', policy)).toEqual([{ path: 'body.passwordPolicy', message: 'unknown field "passwordPolicy" (did you mean "passwordPolicies"?)' }]);
  });

  it('fails a misspelled field deep inside a nested object, with its path', () => {
    const policy = amapiPolicy({ passwordPolicies: [{ passwordScope: 'SCOPE_DEVICE', passwordMinimumLenght: 6 }] });
    expect(checkAmapi('Policy', policy)).toEqual([{ path: 'body.passwordPolicies[0].passwordMinimumLenght', message: 'unknown field "passwordMinimumLenght" (did you mean "passwordMinimumLength"?)' }]);
    const device = amapiDevice();
    (device.softwareInfo as Record<string, unknown>).securityPatchLvl = '2026-02-05';
    expect(checkAmapi('Device', device)).toMatchObject([{ path: 'body.softwareInfo.securityPatchLvl', message: expect.stringContaining('did you mean "securityPatchLevel"') }]);
  });

  it('fails a wrong enum value, listing the values Google accepts', () => {
    const problems = checkAmapi('Policy', amapiPolicy({ cameraAccess: 'CAMERA_DISABLED' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('body.cameraAccess');
    expect(problems[0]!.message).toBe('"CAMERA_DISABLED" is not one of CAMERA_ACCESS_UNSPECIFIED, CAMERA_ACCESS_USER_CHOICE, CAMERA_ACCESS_DISABLED, CAMERA_ACCESS_ENFORCED');
  });

  it('fails a wrong type, and a number where the wire format wants an int64 string', () => {
    expect(checkAmapi('Policy', amapiPolicy({ screenCaptureDisabled: 'yes' }))).toEqual([{ path: 'body.screenCaptureDisabled', message: 'must be a boolean (got the string "yes")' }]);
    expect(checkAmapi('Policy', amapiPolicy({ maximumTimeToLock: 300000 }))).toEqual([{ path: 'body.maximumTimeToLock', message: 'must be a string (got the number 300000)' }]);
    expect(checkAmapi('Policy', amapiPolicy({ maximumTimeToLock: '5m' }))).toEqual([{ path: 'body.maximumTimeToLock', message: '"5m" is not in the wire format (a 64-bit integer as a decimal string)' }]);
    expect(checkAmapi('Policy', amapiPolicy({ passwordPolicies: [{ passwordMinimumLength: '6' }] }))).toEqual([{ path: 'body.passwordPolicies[0].passwordMinimumLength', message: 'must be an integer (got the string "6")' }]);
    expect(checkAmapi('Policy', amapiPolicy({ passwordPolicies: [{ passwordExpirationTimeout: '90d' }] }))).toEqual([{ path: 'body.passwordPolicies[0].passwordExpirationTimeout', message: '"90d" is not in the wire format (a duration in seconds such as "3.5s")' }]);
    expect(checkAmapi('Device', amapiDevice({ lastStatusReportTime: '2026-03-01 11:40' }))).toEqual([{ path: 'body.lastStatusReportTime', message: '"2026-03-01 11:40" is not in the wire format (an RFC 3339 timestamp with zone)' }]);
    expect(checkAmapi('Policy', amapiPolicy({ applications: { packageName: 'x' } }))).toEqual([{ path: 'body.applications', message: 'must be an array (got an object)' }]);
  });

  it('reports every problem of a body at once', () => {
    const problems = checkAmapi('Policy', amapiPolicy({ cameraAccess: 'OFF', bluetoothDisabled: 1, playStoreMod: 'BLACKLIST' }));
    expect(problems.map((p) => p.path).sort()).toEqual(['body.bluetoothDisabled', 'body.cameraAccess', 'body.playStoreMod']);
  });

  it('lets maps and any-typed members carry what they carry (ONC, operation metadata), but not at the top of a closed object', () => {
    expect(checkAmapi('Policy', amapiPolicy({ openNetworkConfiguration: { NetworkConfigurations: [], Certificates: [] } }))).toEqual([]);
    expect(checkAmapi('Operation', amapiOperation({ metadata: { '@type': 'x', anything: { nested: [1, 2] } } }))).toEqual([]);
    expect(checkAmapi('Operation', amapiOperation({ result: {} }))).toMatchObject([{ path: 'body.result' }]);
  });

  it('refuses to check against a schema the document does not have', () => {
    expect(() => checkAmapi('Polcy', {})).toThrow('the discovery document has no schema Polcy');
  });
});
