// Every route the server answers, in one table: the router, the OpenAPI test and docs use it.
import { OPENAPI_DOCUMENT } from '../openapi.js';
import type { Route } from '../router.js';
import { adminRoutes } from './admin.js';
import { agentRoutes } from './agent.js';

const metaRoutes: Route[] = [
  { method: 'GET', path: '/healthz', auth: 'none', handler: () => ({ status: 'ok' }) },
  { method: 'GET', path: '/v1/openapi.json', auth: 'none', handler: () => OPENAPI_DOCUMENT },
];

export const ROUTES: readonly Route[] = [...metaRoutes, ...adminRoutes, ...agentRoutes];
