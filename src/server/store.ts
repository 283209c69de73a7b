// What the server serves: the fleet service (FleetStore, async, over either engine). One
// interface, not a hand-kept copy of it: the server compiles against the service itself.
export type { FleetStore as ServerStore } from '../store/fleet-store.js';
