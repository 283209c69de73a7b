// Every route the server answers, in one table: the router, the OpenAPI test and docs use it.
import { OPENAPI_DOCUMENT } from '../openapi.js';
import { HttpError, type Route } from '../router.js';
import { StoreUnavailableError } from '../../store/engine.js';
import { checkQuery } from '../validate.js';
import { adminRoutes } from './admin.js';
import { agentRoutes } from './agent.js';
import { androidRoutes } from './android.js';

const metaRoutes: Route[] = [
  // Like every route, they refuse what they do not take (the 400 their OpenAPI entries declare).
  { method: 'GET', path: '/healthz', auth: 'none', handler: (ctx) => (checkQuery(ctx.query, []), { status: 'ok' }) },
  // Readiness for a load balancer: can this replica reach its database now? Anyone may ask, so
  // the answer names no host, user or cause (the server log has those).
  {
    method: 'GET',
    path: '/readyz',
    auth: 'none',
    handler: async (ctx) => {
      checkQuery(ctx.query, []);
      try {
        await ctx.store.ping();
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        throw new HttpError(503, 'unavailable', 'the database is not reachable; retry shortly', { 'retry-after': String(error.retryAfterSeconds) });
      }
      return { status: 'ready' };
    },
  },
  { method: 'GET', path: '/v1/openapi.json', auth: 'none', handler: (ctx) => (checkQuery(ctx.query, []), OPENAPI_DOCUMENT) },
];

export const ROUTES: readonly Route[] = [...metaRoutes, ...adminRoutes, ...agentRoutes, ...androidRoutes];
