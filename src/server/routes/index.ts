// Every route the server answers, in one table: the router, the OpenAPI test and docs use it.
import { OPENAPI_DOCUMENT } from '../openapi.js';
import type { Route } from '../router.js';
import { checkQuery } from '../validate.js';
import { adminRoutes } from './admin.js';
import { agentRoutes } from './agent.js';

const metaRoutes: Route[] = [
  // Like every route, they refuse what they do not take (the 400 their OpenAPI entries declare).
  { method: 'GET', path: '/healthz', auth: 'none', handler: (ctx) => (checkQuery(ctx.query, []), { status: 'ok' }) },
  { method: 'GET', path: '/v1/openapi.json', auth: 'none', handler: (ctx) => (checkQuery(ctx.query, []), OPENAPI_DOCUMENT) },
];

export const ROUTES: readonly Route[] = [...metaRoutes, ...adminRoutes, ...agentRoutes];
