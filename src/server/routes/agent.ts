// The device agent API: enroll with an enrollment token, then check in and report command
// results with the per-device credential. Check-in is the hot path: validate and hand over.
import type { CheckInRequest, CheckInResponse, CommandResultReport, EnrollRequest } from '../../model/protocol.js';
import { checkEnrollRequest, checkLength, DEVICE_LIMITS } from '../../model/device-limits.js';
import { OWNERSHIPS, PLATFORMS } from '../../model/fleet.js';
import { JsonText, jsonOf, NO_CONTENT, type Route } from '../router.js';
import { checkBody } from '../shapes.js';
import { oneOf, optionalString, requiredString } from '../validate.js';

/** The check-in response's fields, as the handler writes them: a field added to CheckInResponse fails the type check here until it is written too. */
const CHECK_IN_FIELDS = { deviceId: true, configuration: true, commands: true, checkInIntervalSeconds: true } satisfies Record<keyof CheckInResponse, true>;
void CHECK_IN_FIELDS;

export const agentRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/agent/enroll',
    auth: 'none',
    limitByIp: true,
    handler: async (ctx) => {
      const body = await ctx.body();
      checkBody('EnrollRequest', body);
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
      checkEnrollRequest(request, 'body');
      const response = await ctx.store.enrollDevice(request, ctx.ip);
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
      checkBody('CheckInRequest', body);
      // The posture is the service's to check (parsePosture, once), named as the body's field.
      const request = { posture: body.posture } as CheckInRequest;
      const r = await ctx.store.checkIn(ctx.deviceId!, request, ctx.deviceSession, 'body.posture');
      // The configuration is one object per resource snapshot and group set: serialised once.
      return new JsonText(`{"deviceId":${JSON.stringify(r.deviceId)},"configuration":${jsonOf(r.configuration)},"commands":${JSON.stringify(r.commands)},"checkInIntervalSeconds":${JSON.stringify(r.checkInIntervalSeconds)}}`);
    },
  },
  {
    method: 'POST',
    path: '/v1/agent/commands/{id}/result',
    auth: 'device',
    handler: async (ctx) => {
      const body = await ctx.body();
      checkBody('CommandResultReport', body);
      const report: CommandResultReport = {
        status: oneOf(requiredString(body, 'status'), ['acknowledged', 'failed'] as const, 'body.status')!,
        detail: optionalString(body, 'detail'),
      };
      if (report.detail !== undefined) checkLength(report.detail, DEVICE_LIMITS.detail, 'body.detail');
      await ctx.store.reportCommandResult(ctx.deviceId!, ctx.params.id!, report, ctx.ip);
      return NO_CONTENT;
    },
  },
];
