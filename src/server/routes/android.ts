// The Android channel's endpoint: Cloud Pub/Sub pushes AMAPI's notifications (ENROLLMENT,
// STATUS_REPORT, COMMAND) here. Anyone can reach the URL, so the push proves itself: the OIDC
// token Pub/Sub signs for the subscription's service account (Authorization: Bearer …), checked
// against Google's keys, issuer, the configured audience and e-mail, before the body is read.
// The body is bounded (a notification's data is at most 1 MiB, base64 a third more), then parsed
// as any request body. A 2xx is Pub/Sub's acknowledgement; anything else makes it push again.
import { HttpError, NO_CONTENT, type Route } from '../router.js';
import { readJsonBody } from '../body.js';
import { checkQuery } from '../validate.js';

/** 1 MiB of notification data as base64, with the envelope around it. */
export const PUSH_BODY_LIMIT = Math.ceil((1024 * 1024) / 3) * 4 + 16 * 1024;

export const androidRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/android/pubsub',
    auth: 'none',
    handler: async (ctx) => {
      const android = ctx.android;
      if (!android?.push) {
        throw new HttpError(404, 'not_found', 'this server takes no Pub/Sub pushes', {}, 'start emmctl server with --android-enterprise, --pubsub-audience and --pubsub-service-account');
      }
      checkQuery(ctx.query, []);
      await android.push.verify(ctx.req.headers.authorization);
      const body = await readJsonBody(ctx.req, PUSH_BODY_LIMIT);
      ctx.actor = { name: 'google:pubsub', source: ctx.ip };
      await android.channel.handlePush(body);
      return NO_CONTENT;
    },
  },
];
