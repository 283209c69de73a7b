// The embedded driver (the default): the Backend interface over a FleetService in a local data
// dir (the SQLite engine), no server needed. Each method names the local actor for the audit log.
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import type { ApiTokenAdmin, ApplyOptions, Backend, ComplianceQuery, DeviceQuery, EnqueueRequest, PreregisteredDevice, ResourceChange, CommandQuery, AuditQuery } from '../backend.js';
import type { BackendTarget } from '../target.js';
import type { ResourceKind } from '../../model/policy.generated.js';
import type { Actor, ApiRole } from '../../model/access.js';
import { FleetService, type FleetServiceOptions } from '../../service/fleet-service.js';

export function localActorName(): string {
  let user = process.env.USER ?? process.env.USERNAME ?? 'unknown';
  try {
    user = userInfo().username || user;
  } catch {
    // No passwd entry (some containers): fall back to the environment.
  }
  return `local:${user}`;
}

export class EmbeddedBackend implements Backend, ApiTokenAdmin {
  readonly kind = 'embedded';
  readonly location: string;
  /** The underlying store, for callers that also need the agent side (simulate, tests). */
  readonly store: FleetService;
  private readonly actor: Actor;

  readonly notice?: string;

  constructor(store: FleetService, location: string, actor: Actor) {
    this.store = store;
    this.location = location;
    this.actor = actor;
    if (store.missing) this.notice = `no emmctl store at ${resolve(location)} yet: this shows it as empty; \`emmctl apply\` creates it`;
  }

  async identity() {
    return { kind: this.kind, location: this.location, storeId: await this.store.storeId() };
  }
  async sealPlan(digest: string) {
    return this.store.sealPlan(digest);
  }
  async listResources(kind?: ResourceKind) {
    return this.store.listResources(kind);
  }
  async applyChanges(changes: ResourceChange[], opts?: ApplyOptions) {
    return this.store.applyChanges(changes, this.actor, opts);
  }
  async createEnrollmentToken(input: { profile: string; expiresInSeconds?: number; maxUses?: number }) {
    return this.store.createEnrollmentToken(input, this.actor);
  }
  async listEnrollmentTokens() {
    return this.store.listEnrollmentTokens();
  }
  async revokeEnrollmentToken(id: string) {
    return this.store.revokeEnrollmentToken(id, this.actor);
  }
  async preregisterDevices(rows: PreregisteredDevice[]) {
    return this.store.preregisterDevices(rows, this.actor);
  }
  async listDevices(query: DeviceQuery) {
    return this.store.listDevices(query);
  }
  async getDevice(id: string) {
    return this.store.getDevice(id);
  }
  async listCompliance(query: ComplianceQuery) {
    return this.store.listCompliance(query);
  }
  async releaseDevice(id: string, opts: { expiresInSeconds?: number } = {}) {
    return this.store.releaseDevice(id, opts, this.actor);
  }
  async enqueueCommands(request: EnqueueRequest) {
    return this.store.enqueueCommands(request, this.actor);
  }
  async listCommands(query: CommandQuery) {
    return this.store.listCommands(query);
  }
  async getCommand(id: string) {
    return this.store.getCommand(id);
  }
  async cancelCommand(id: string) {
    return this.store.cancelCommand(id, this.actor);
  }
  async listAudit(query: AuditQuery) {
    return this.store.listAudit(query);
  }
  /** Only `emmctl server --notify-webhook` delivers notifications; the embedded store has no channel. */
  async notifyChannels() {
    return 0;
  }
  // The server's API tokens, managed on its store directly: the first admin token exists before any server runs.
  async createApiToken(input: { name: string; role: ApiRole; expiresInSeconds?: number }) {
    return this.store.createApiToken(input, this.actor);
  }
  async listApiTokens() {
    return this.store.listApiTokens();
  }
  async revokeApiToken(id: string) {
    return this.store.revokeApiToken(id, this.actor);
  }
  async close() {
    await this.store.close();
  }
}

export async function openEmbeddedBackend(
  target: Omit<Extract<BackendTarget, { kind: 'embedded' }>, 'kind'> & { kind?: 'embedded' },
  options: FleetServiceOptions = {},
): Promise<EmbeddedBackend> {
  const store = await FleetService.open(target.dataDir, { ifMissing: target.ifMissing, ...options });
  // Absolute, so a saved plan names the same folder from wherever it is applied.
  return new EmbeddedBackend(store, resolve(target.dataDir), { name: target.actor ?? localActorName(), source: 'local' });
}
