// What the server needs from the store: FleetStore's admin side (Backend's operations, synchronous,
// taking the Actor for the audit log) plus the agent and API-token sides of src/store/api.ts.
// Declared here so the server compiles against the contract, not against one store's internals.
import type { AgentApi, ApiTokenApi, Actor, NotifyDelivery, OutboxEvent } from '../store/api.js';
import type {
  AppliedChange,
  ApplyOptions,
  AuditQuery,
  CommandQuery,
  ComplianceQuery,
  CreatedEnrollmentToken,
  DeviceDetail,
  DeviceQuery,
  EnqueueRequest,
  EnqueueResult,
  PreregisteredDevice,
  ResourceChange,
} from '../model/requests.js';
import type { AuditRecord, Device, DeviceCommand, DeviceCompliance, EnrollmentToken, Page, StoredResource } from '../model/fleet.js';
import type { ResourceKind } from '../model/policy.generated.js';

export interface ServerStore extends AgentApi, ApiTokenApi {
  storeId(): string;
  sealPlan(digest: string): string;
  listResources(kind?: ResourceKind): StoredResource[];
  /** `precheck` runs inside the store's transaction on the stored resources; throwing refuses the whole set. */
  applyChanges(changes: ResourceChange[], actor: Actor, opts?: ApplyOptions & { precheck?: (current: StoredResource[]) => void }): AppliedChange[];
  createEnrollmentToken(input: { profile: string; expiresInSeconds?: number; maxUses?: number }, actor: Actor): CreatedEnrollmentToken;
  listEnrollmentTokens(): EnrollmentToken[];
  revokeEnrollmentToken(id: string, actor: Actor): EnrollmentToken;
  preregisterDevices(rows: PreregisteredDevice[], actor: Actor): { created: number; updated: number };
  listDevices(query: DeviceQuery): Page<Device>;
  getDevice(id: string): DeviceDetail;
  listCompliance(query: ComplianceQuery): Page<DeviceCompliance>;
  releaseDevice(id: string, input: { expiresInSeconds?: number }, actor: Actor): Device;
  enqueueCommands(request: EnqueueRequest, actor: Actor): EnqueueResult;
  listCommands(query: CommandQuery): Page<DeviceCommand>;
  getCommand(id: string): DeviceCommand;
  cancelCommand(id: string, actor: Actor): DeviceCommand;
  listAudit(query: AuditQuery): Page<AuditRecord>;
  /** The notification outbox (written only when the store was opened with notifyOutbox). */
  pendingNotifications(afterSeq?: number, limit?: number): OutboxEvent[];
  finishNotification(event: OutboxEvent, deliveries: NotifyDelivery[]): void;
  /** Escalations and command expiry; called on a timer. */
  reconcile(now: Date): unknown;
  close(): void;
}
