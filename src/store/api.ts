// The record types of the store's agent and API-token sides live in src/model/access.ts;
// re-exported here for existing importers. The operations are FleetService's (src/service/fleet-service.ts).
export { DEFAULT_RELEASE_SECONDS, MAX_RELEASE_SECONDS } from '../model/access.js';
export type { Actor, ApiRole, ApiTokenInfo, NotifyDelivery, OutboxEvent } from '../model/access.js';
