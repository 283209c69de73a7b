// The compliance and configuration engine: pure functions over policy documents and device
// records. No I/O, no clock — `now` is always an argument — so the store, the server and the
// tests get the same answers for the same inputs.
export { compareVersions, versionSortKey, versionParts, SORT_KEY_PART_WIDTH } from './versions.js';
export { parseDuration } from './duration.js';
export { ALL_GROUP, groupsForDevice, policiesForGroups } from './groups.js';
export { DAY_MS, evaluateCompliance, formatAge, gracePeriodMs, resultHoldsUntil } from './evaluate.js';
export type { ComplianceInput, ComplianceResult } from './evaluate.js';
export { dueEscalations, escalationKey, escalationOutlook, escalationPlan, failureOnset, nextEscalationAt, upcomingEscalation } from './escalation.js';
export type { DueEscalation, EscalationAction, EscalationInput, PlannedEscalation } from './escalation.js';
export {
  DEFAULT_PRIORITY,
  OS_UPDATE_MODES_WEAK_TO_STRICT,
  PASSCODE_QUALITY,
  WIFI_SECURITY_WEAK_TO_STRONG,
  canonicalJson,
  configVersion,
  conflictingSettings,
  effectiveConfiguration,
} from './merge.js';
export type { SettingConflict } from './merge.js';
