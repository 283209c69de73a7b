// Which document fields hold secrets, and how they are masked: the rules live in
// src/model/secrets.ts (the store masks device views with them too); re-exported here for the plan.
export { isSensitivePath, maskValue, sensitiveLeaves, SENSITIVE_MASK } from '../model/secrets.js';
