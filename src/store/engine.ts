// The store's one door to the pure compliance/configuration engine (src/compliance): the store
// evaluates only through these names.
export {
  compareVersions,
  dueEscalations,
  effectiveConfiguration,
  evaluateCompliance,
  groupsForDevice,
  parseDuration,
  policiesForGroups,
  versionSortKey,
} from '../compliance/index.js';
