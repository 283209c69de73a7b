// The device agent API: enroll with an enrollment token, then check in and report command
// results with the per-device credential. Check-in is the hot path: validate and hand over.
import type { CheckInRequest, CommandResultReport, EnrollRequest } from '../../agent/protocol.js';
import { OWNERSHIPS, PLATFORMS, type Posture } from '../../model/fleet.js';
import { badRequest, NO_CONTENT, type Route } from '../router.js';
import { isObject, oneOf, optionalString, requiredString } from '../validate.js';

export const agentRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/agent/enroll',
    auth: 'none',
    limitByIp: true,
    handler: async (ctx) => {
      const body = await ctx.body();
      const request: EnrollRequest = {
        token: requiredString(body, 'token'),
        platform: oneOf(requiredString(body, 'platform'), PLATFORMS, 'body.platform')!,
        serial: requiredString(body, 'serial'),
        name: optionalString(body, 'name'),
        model: optionalString(body, 'model'),
        owner: optionalString(body, 'owner'),
        ownership: oneOf(optionalString(body, 'ownership'), OWNERSHIPS, 'body.ownership'),
        osVersion: requiredString(body, 'osVersion'),
      };
      const response = ctx.store.enrollDevice(request, ctx.ip);
      ctx.actor = { name: `device:${response.deviceId}`, source: ctx.ip };
      return response;
    },
  },
  {
    method: 'POST',
    path: '/v1/agent/checkin',
    auth: 'device',
    handler: async (ctx) => {
      const body = await ctx.body();
      const request: CheckInRequest = { posture: parsePosture(body.posture) };
      return ctx.store.checkIn(ctx.deviceId!, request);
    },
  },
  {
    method: 'POST',
    path: '/v1/agent/commands/{id}/result',
    auth: 'device',
    handler: async (ctx) => {
      const body = await ctx.body();
      const report: CommandResultReport = {
        status: oneOf(requiredString(body, 'status'), ['acknowledged', 'failed'] as const, 'body.status')!,
        detail: optionalString(body, 'detail'),
      };
      ctx.store.reportCommandResult(ctx.deviceId!, ctx.params.id!, report, ctx.ip);
      return NO_CONTENT;
    },
  },
];

function parsePosture(value: unknown): Posture {
  if (!isObject(value)) throw badRequest('body.posture is required (an object)');
  const where = 'body.posture';
  for (const key of ['encrypted', 'passcodeSet', 'compromised'] as const) {
    if (typeof value[key] !== 'boolean') throw badRequest(`${where}.${key} must be true or false`);
  }
  const apps = value.installedApps;
  if (!Array.isArray(apps) || apps.some((a) => typeof a !== 'string')) throw badRequest(`${where}.installedApps must be an array of app ids`);
  const posture: Posture = {
    osVersion: requiredString(value, 'osVersion', where),
    encrypted: value.encrypted as boolean,
    passcodeSet: value.passcodeSet as boolean,
    compromised: value.compromised as boolean,
    installedApps: apps as string[],
  };
  const patchLevel = optionalString(value, 'patchLevel', where);
  if (patchLevel !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(patchLevel)) throw badRequest(`${where}.patchLevel must be YYYY-MM-DD (got "${patchLevel}")`);
    posture.patchLevel = patchLevel;
  }
  for (const key of ['model', 'serial', 'appliedConfigVersion'] as const) {
    const v = optionalString(value, key, where);
    if (v !== undefined) posture[key] = v;
  }
  return posture;
}
