// What the server serves: the fleet service (FleetService, async, over either engine). One
// interface, not a hand-kept copy of it: the server compiles against the service itself.
export type { DeviceSession, FleetService as ServerStore } from '../service/fleet-service.js';
