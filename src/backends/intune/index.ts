// The intune driver: the Backend interface over a Microsoft Intune tenant through Graph. Intune is
// itself the EMM (groups, compliance, its own agent), so here emmctl is its policy-as-code client:
// documents are mapped to Graph objects (map-*.ts) and read back from them, devices and compliance
// come from managedDevices, commands are Intune's device actions, and what Intune does not keep
// (command ids, idempotency, who asked) lives in a local ledger (ledger.ts).
//
// Graph is not transactional: applyChanges checks every version and reference first (nothing is
// written if one fails), then applies change by change in dependency order and, at the first
// failure, stops and says exactly which changes were applied and which were not. A re-plan reads
// the tenant again, so it converges.
import { createHash, randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { compareVersions } from '../../compliance/index.js';
import { BackendError, EmmctlError, OutcomeUnknownError } from '../../errors.js';
import type { AuditRecord, Device, DeviceCommand, DeviceCompliance, EnrollmentToken, Page, StoredResource } from '../../model/fleet.js';
import type { CompliancePolicyDocument, EnrollmentProfileDocument, GroupDocument, PolicyDocument, ResourceDocument, ResourceKind } from '../../model/policy.generated.js';
import type {
  AppliedChange,
  ApplyOptions,
  AuditQuery,
  Backend,
  BackendIdentity,
  CommandQuery,
  ComplianceQuery,
  CreatedEnrollmentToken,
  DeviceDetail,
  DeviceQuery,
  EnqueueRequest,
  EnqueueResult,
  PreregisteredDevice,
  ResourceChange,
} from '../backend.js';
import type { IntuneTarget as IntuneBackendTarget } from '../target.js';
import { TokenSource } from './auth.js';
import { complianceStatusOf, DEVICE_SELECT, deviceMatches, graphFilter, toCompliance, toDevice, type ManagedDevice, type PolicyState } from './devices.js';
import { GraphClient, type GraphVersion } from './graph.js';
import { Ledger } from './ledger.js';
import { adoptGroup, mapGroup, readGroup } from './map-group.js';
import { mapCompliance, mapPolicy, readAssign, readCompliance, readPolicy, type MappedPolicy, type ReadObject, type Unmapped } from './map-policy.js';
import { mapEnrollmentProfile, readEnrollmentProfile } from './map-enrollment.js';
import { getDotted, leafPaths, readMarker, NAME_PREFIX, type Marker } from './marker.js';
import { COMPLIANCE_TYPES, CONFIGURATION_TYPES, targetOfType, targetsFor, type IntuneTarget } from './targets.js';

export const PUBLIC_GRAPH = 'https://graph.microsoft.com';
const DEFAULT_TIMEOUT_MS = 30_000;
const KIND_ORDER: readonly ResourceKind[] = ['Group', 'EnrollmentProfile', 'Policy', 'CompliancePolicy'];

type GraphObject = Record<string, unknown> & { id: string };

/** One emmctl resource as it sits in the tenant: its Graph objects and the marker they carry. */
interface TenantResource {
  kind: ResourceKind;
  name: string;
  marker: Marker;
  /** For Group / EnrollmentProfile one object; for policies one per target. */
  objects: Array<{ target?: IntuneTarget; version: GraphVersion; object: GraphObject }>;
}

interface Tenant {
  resources: Map<string, TenantResource>;
  groupIds: Map<string, string>;
  groupNames: Map<string, string>;
}

const keyOf = (kind: string, name: string) => `${kind}/${name}`;

export interface AdoptResult {
  adopted: Array<{ kind: ResourceKind; name: string; from: string }>;
  skipped: Array<{ what: string; why: string }>;
}

/** A document name from a display name: lower-case letters, digits and `-`, at most 63. */
function slug(text: string): string {
  return text.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
}

/**
 * A version for a resource made of several Graph objects: a fingerprint of their ids,
 * `version` counters and `lastModifiedDateTime`s (groups, which have neither, by content). It
 * changes whenever any of them changes, which is what a saved plan's stale check needs; it is
 * not a counter.
 */
export function fingerprint(objects: ReadonlyArray<{ object: Record<string, unknown> }>): number {
  const parts = objects
    .map(({ object: o }) =>
      [o.id, o.version ?? '', o.lastModifiedDateTime ?? '', o.displayName ?? '', o.description ?? '', o.membershipRule ?? '', JSON.stringify(o.groupTypes ?? ''), JSON.stringify(o.assignments ?? '')].join('|'))
    .sort();
  const h = createHash('sha256').update(parts.join('\n')).digest();
  // 1..2^31-1: a positive safe integer whatever the platform.
  return (h.readUInt32BE(0) & 0x7fffffff) || 1;
}

export class IntuneBackend implements Backend {
  readonly kind = 'intune';
  readonly location: string;
  readonly notice?: string;
  readonly commandDelivery = 'Intune sends it to the devices as a device action; `emmctl commands list` (or --wait) follows its result.';
  private readonly graph: GraphClient;
  private readonly ledger: Ledger;
  private readonly actor: string;

  constructor(private readonly target: IntuneBackendTarget, opts: { sleep?: (ms: number) => Promise<void> } = {}) {
    const graphEndpoint = (target.graphEndpoint ?? PUBLIC_GRAPH).replace(/\/+$/, '');
    this.location = `tenant ${target.tenantId}${target.graphEndpoint ? ` at ${graphEndpoint}` : ''}`;
    const tokens = new TokenSource({
      tenantId: target.tenantId,
      clientId: target.clientId,
      clientSecret: target.clientSecret,
      clientCertificate: target.clientCertificate,
      loginEndpoint: target.loginEndpoint,
      graphEndpoint,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      debug: target.debug,
    });
    this.graph = new GraphClient({ graphEndpoint, token: () => tokens.token(), invalidateToken: () => tokens.invalidate(), timeoutMs: DEFAULT_TIMEOUT_MS, debug: target.debug, sleep: opts.sleep });
    this.ledger = new Ledger(target.stateDir);
    this.actor = target.actor ?? localActor();
  }

  // ---- identity ----

  async identity(): Promise<BackendIdentity> {
    return { kind: this.kind, location: this.location, storeId: `st_${createHash('sha256').update(`intune:${this.target.tenantId.toLowerCase()}`).digest('hex').slice(0, 24)}` };
  }

  async sealPlan(digest: string): Promise<string> {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new BackendError('invalid', 'digest must be sha256:<64 hex digits>');
    return this.ledger.seal(digest);
  }

  // ---- reading the tenant ----

  private async readTenant(): Promise<Tenant> {
    const resources = new Map<string, TenantResource>();
    const add = (marker: Marker, entry: TenantResource['objects'][number]) => {
      const k = keyOf(marker.kind, marker.name);
      const r = resources.get(k) ?? { kind: marker.kind, name: marker.name, marker, objects: [] };
      // The same object read from v1.0 and beta: keep one (beta for types only beta has).
      const same = r.objects.findIndex((o) => o.object.id === entry.object.id);
      if (same >= 0) {
        if (entry.version === 'beta' && r.objects[same]!.version === 'v1.0') r.objects[same] = entry;
      } else r.objects.push(entry);
      resources.set(k, r);
    };
    const groups = await this.listOwnedGroups();
    const groupIds = new Map<string, string>();
    const groupNames = new Map<string, string>();
    for (const g of groups) {
      const m = readMarker(g.displayName, g.description);
      if (!m || m.kind !== 'Group') continue;
      groupIds.set(m.name, g.id);
      groupNames.set(g.id, m.name);
      add(m, { version: 'v1.0', object: g });
    }
    for (const version of ['v1.0', 'beta'] as const) {
      const configs = await this.graph.all<GraphObject>('/deviceManagement/deviceConfigurations', { version, query: { $expand: 'assignments' }, action: 'read device configurations' });
      for (const c of configs) {
        const m = readMarker(c.displayName, c.description);
        const target = targetOfType(c['@odata.type'], CONFIGURATION_TYPES);
        if (!m || m.kind !== 'Policy' || !target) continue;
        if (version === 'v1.0' && CONFIGURATION_TYPES[target].version === 'beta') continue;
        if (version === 'beta' && CONFIGURATION_TYPES[target].version !== 'beta') continue;
        add(m, { target, version, object: c });
      }
      const policies = await this.graph.all<GraphObject>('/deviceManagement/deviceCompliancePolicies', { version, query: { $expand: 'assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)' }, action: 'read compliance policies' });
      for (const p of policies) {
        const m = readMarker(p.displayName, p.description);
        const target = targetOfType(p['@odata.type'], COMPLIANCE_TYPES);
        if (!m || m.kind !== 'CompliancePolicy' || !target) continue;
        const beta = COMPLIANCE_TYPES[target].version === 'beta' || complianceNeedsBeta(m);
        if ((version === 'beta') !== beta) continue;
        add(m, { target, version, object: p });
      }
    }
    const profiles = await this.graph.all<GraphObject>('/deviceManagement/androidDeviceOwnerEnrollmentProfiles', { version: 'beta', action: 'read Android enrollment profiles' });
    for (const p of profiles) {
      const m = readMarker(p.displayName, p.description);
      if (!m || m.kind !== 'EnrollmentProfile') continue;
      add(m, { version: 'beta', object: p });
    }
    // Scheduled actions not expanded (some tenants ignore nested $expand): read them per policy.
    for (const r of resources.values()) {
      if (r.kind !== 'CompliancePolicy') continue;
      for (const o of r.objects) {
        if (Array.isArray(o.object.scheduledActionsForRule)) continue;
        o.object.scheduledActionsForRule = await this.graph.all(`/deviceManagement/deviceCompliancePolicies/${seg(o.object.id)}/scheduledActionsForRule`, {
          version: o.version, query: { $expand: 'scheduledActionConfigurations' }, action: 'read compliance actions',
        });
      }
    }
    return { resources, groupIds, groupNames };
  }

  private async listOwnedGroups(): Promise<GraphObject[]> {
    const select = 'id,displayName,description,groupTypes,membershipRule,membershipRuleProcessingState,securityEnabled,mailEnabled,mailNickname,createdDateTime';
    try {
      return await this.graph.all<GraphObject>('/groups', { query: { $filter: `startswith(displayName,'${NAME_PREFIX}')`, $select: select }, action: 'read groups' });
    } catch (error) {
      // A directory that does not take startswith here: list all and keep ours.
      if (!(error instanceof BackendError) || error.code !== 'invalid') throw error;
      const all = await this.graph.all<GraphObject>('/groups', { query: { $select: select }, action: 'read groups' });
      return all.filter((g) => typeof g.displayName === 'string' && g.displayName.startsWith(NAME_PREFIX));
    }
  }

  private toStored(r: TenantResource, groupNames: ReadonlyMap<string, string>): StoredResource {
    const reads: ReadObject[] = r.objects.filter((o) => o.target).map((o) => ({ target: o.target!, object: o.object }));
    let document: ResourceDocument;
    switch (r.kind) {
      case 'Group':
        document = readGroup(r.marker, r.objects[0]!.object);
        break;
      case 'Policy':
        document = readPolicy(r.marker, reads, groupNames);
        break;
      case 'CompliancePolicy':
        document = readCompliance(r.marker, reads, groupNames);
        break;
      case 'EnrollmentProfile':
        document = readEnrollmentProfile(r.marker, r.objects[0]!.object, groupNames);
        break;
    }
    const times = r.objects.map((o) => String(o.object.lastModifiedDateTime ?? o.object.createdDateTime ?? '')).filter(Boolean).sort();
    return { kind: r.kind, name: r.name, document, version: fingerprint(r.objects), updatedAt: times.at(-1) ?? new Date(0).toISOString() };
  }

  async listResources(kind?: ResourceKind): Promise<StoredResource[]> {
    const tenant = await this.readTenant();
    return [...tenant.resources.values()]
      .filter((r) => !kind || r.kind === kind)
      .map((r) => this.toStored(r, tenant.groupNames))
      .sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * What the documents cannot carry into Intune, for `plan` to say before anything is applied:
   * fields with no Graph property, match conditions with no device rule, the tenant-wide
   * check-in age, and fields two policies set differently on one group (Intune has no priority).
   */
  async planWarnings(documents: readonly ResourceDocument[]): Promise<string[]> {
    const groups = new Map(documents.filter((d): d is GroupDocument => d.kind === 'Group').map((d) => [d.metadata.name, d]));
    const out: string[] = [];
    const say = (d: ResourceDocument, u: Unmapped[]) => {
      for (const x of u) out.push(`${d.kind}/${d.metadata.name} ${x.path}: not applied in Intune: ${x.why} (kept in the object's description)`);
    };
    for (const d of documents) {
      if (d.kind === 'Group') say(d, mapGroup(d).unmapped);
      else if (d.kind === 'Policy') say(d, mapPolicy(d, groups).unmapped);
      else if (d.kind === 'CompliancePolicy') say(d, mapCompliance(d, groups).unmapped);
      else {
        const m = mapEnrollmentProfile(d, new Map());
        if ('refused' in m) out.push(`EnrollmentProfile/${d.metadata.name}: ${m.refused}`);
        else say(d, m.unmapped);
      }
    }
    out.push(...priorityConflicts(documents.filter((d): d is PolicyDocument => d.kind === 'Policy'), groups));
    return out;
  }

  // ---- applying ----

  async applyChanges(changes: ResourceChange[], opts: ApplyOptions = {}): Promise<AppliedChange[]> {
    const tenant = await this.readTenant();
    const current = new Map([...tenant.resources.values()].map((r) => [keyOf(r.kind, r.name), r]));
    // Every guard before the first write: a stale version or a dangling reference applies nothing.
    for (const c of changes) {
      const now = current.get(keyOf(c.kind, c.name));
      if (c.op === 'create' && now) throw new BackendError('conflict', `${c.kind}/${c.name} already exists in Intune (version ${fingerprint(now.objects)})`, { hint: 'run `emmctl plan` again' });
      if (c.op !== 'create') {
        if (!now) throw new BackendError('conflict', `${c.kind}/${c.name}: expected version ${c.expectedVersion}, found none (it was deleted in Intune)`, { hint: 'run `emmctl plan` again' });
        const v = fingerprint(now.objects);
        if (v !== c.expectedVersion) throw new BackendError('conflict', `${c.kind}/${c.name}: expected version ${c.expectedVersion}, found version ${v} (it changed in Intune since the plan)`, { hint: 'run `emmctl plan` again' });
      }
      if (c.op !== 'delete' && 'secrets' in c && c.secrets && Object.keys(c.secrets).length) {
        // Intune holds no emmctl secret field (Wi-Fi is not mapped): the reference is kept, the value never sent.
      }
    }
    const groupsAfter = new Map<string, GroupDocument>();
    for (const r of tenant.resources.values()) if (r.kind === 'Group') groupsAfter.set(r.name, this.toStored(r, tenant.groupNames).document as GroupDocument);
    for (const c of changes) {
      if (c.kind !== 'Group') continue;
      if (c.op === 'delete') groupsAfter.delete(c.name);
      else groupsAfter.set(c.name, c.document as GroupDocument);
    }
    const docsAfter = new Map<string, ResourceDocument>();
    for (const r of tenant.resources.values()) docsAfter.set(keyOf(r.kind, r.name), this.toStored(r, tenant.groupNames).document);
    for (const c of changes) {
      if (c.op === 'delete') docsAfter.delete(keyOf(c.kind, c.name));
      else docsAfter.set(keyOf(c.kind, c.name), c.document);
    }
    for (const d of docsAfter.values()) {
      const refs = d.kind === 'Policy' || d.kind === 'CompliancePolicy' ? d.spec.assign : d.kind === 'EnrollmentProfile' && d.spec.group ? [d.spec.group] : [];
      for (const g of refs) {
        if (g !== 'all' && !groupsAfter.has(g)) throw new BackendError('invalid', `${d.kind}/${d.metadata.name} assigns group "${g}", which would not exist: nothing was applied`, { hint: 'keep the group, or change the assignment in the same apply' });
      }
      if (d.kind === 'EnrollmentProfile') {
        const m = mapEnrollmentProfile(d, new Map());
        if ('refused' in m) throw new BackendError('invalid', `EnrollmentProfile/${d.metadata.name}: ${m.refused}; nothing was applied`);
      }
    }

    // Static groups: every listed device must resolve to its Entra device object before anything is written.
    const members = new Map<string, string[]>();
    for (const c of changes) {
      if (c.kind !== 'Group' || c.op === 'delete') continue;
      const listed = (c.document as GroupDocument).spec.devices;
      if (listed) members.set(c.name, await this.resolveMembers(c.name, listed));
    }

    const ordered = orderChanges(changes);
    const applied: AppliedChange[] = [];
    const createdGroups = new Set<string>();
    for (const [i, c] of ordered.entries()) {
      const label = `${c.op} ${c.kind}/${c.name}`;
      opts.onProgress?.(`[${i + 1}/${ordered.length}] ${label}`);
      try {
        await this.applyOne(c, current.get(keyOf(c.kind, c.name)), tenant, groupsAfter, createdGroups);
        const wanted = members.get(c.name);
        if (c.kind === 'Group' && wanted) await this.syncMembers(tenant.groupIds.get(c.name)!, wanted, createdGroups.has(c.name));
        applied.push({ op: c.op, kind: c.kind, name: c.name, version: null });
        this.audit('apply', `${c.kind}/${c.name}`, { op: c.op });
      } catch (error) {
        throw partialApplyError(error, c, applied, ordered.slice(i + 1));
      }
    }
    // The versions are what Intune now holds (its counters and timestamps moved with the writes).
    const after = await this.readTenant();
    return applied.map((a) => {
      const r = after.resources.get(keyOf(a.kind, a.name));
      return a.op === 'delete' || !r ? a : { ...a, version: fingerprint(r.objects) };
    });
  }

  private async applyOne(c: ResourceChange, now: TenantResource | undefined, tenant: Tenant, groups: ReadonlyMap<string, GroupDocument>, createdGroups: Set<string>): Promise<unknown> {
    if (c.op === 'delete') {
      for (const o of now?.objects ?? []) await this.deleteObject(c.kind, o.object.id, o.version);
      if (c.kind === 'Group') {
        tenant.groupIds.delete(c.name);
      }
      return [];
    }
    switch (c.kind) {
      case 'Group': {
        const mapped = mapGroup(c.document as GroupDocument);
        let group: GraphObject;
        if (now) {
          const id = now.objects[0]!.object.id;
          const { mailNickname: _nick, ...patch } = mapped.body;
          await this.graph.request({ method: 'PATCH', path: `/groups/${seg(id)}`, body: { ...patch, ...(mapped.body.membershipRule ? {} : { membershipRule: null, membershipRuleProcessingState: null }) }, retry: 'safe', write: true, action: `update group ${mapped.body.displayName}` });
          group = { ...now.objects[0]!.object, ...mapped.body, id } as GraphObject;
        } else {
          group = (await this.graph.request<GraphObject>({ method: 'POST', path: '/groups', body: mapped.body, retry: 'unsafe', write: true, action: `create group ${mapped.body.displayName}` })).body;
          createdGroups.add(c.name);
        }
        tenant.groupIds.set(c.name, group.id);
        tenant.groupNames.set(group.id, c.name);
        return [{ object: group }];
      }
      case 'Policy':
      case 'CompliancePolicy': {
        const mapped = c.kind === 'Policy' ? mapPolicy(c.document as PolicyDocument, groups) : mapCompliance(c.document as CompliancePolicyDocument, groups);
        const collection = c.kind === 'Policy' ? '/deviceManagement/deviceConfigurations' : '/deviceManagement/deviceCompliancePolicies';
        const existing = now?.objects ?? [];
        const written: GraphObject[] = [];
        for (const o of mapped.objects) {
          const have = existing.find((e) => e.target === o.target);
          let obj: GraphObject;
          if (have) {
            await this.graph.request({ method: 'PATCH', path: `${collection}/${seg(have.object.id)}`, version: o.type.version, body: { ...o.reset, ...o.body }, retry: 'safe', write: true, action: `update ${o.displayName}` });
            obj = { ...have.object, ...o.body, id: have.object.id };
            if ('scheduledActions' in mapped) {
              await this.graph.request({ method: 'POST', path: `${collection}/${seg(have.object.id)}/scheduleActionsForRules`, version: o.type.version, body: { deviceComplianceScheduledActionForRules: mapped.scheduledActions }, retry: 'safe', write: true, action: `set the actions of ${o.displayName}` });
            }
          } else {
            const body = 'scheduledActions' in mapped ? { ...o.body, scheduledActionsForRule: mapped.scheduledActions } : o.body;
            obj = (await this.graph.request<GraphObject>({ method: 'POST', path: collection, version: o.type.version, body, retry: 'unsafe', write: true, action: `create ${o.displayName}` })).body;
          }
          await this.assign(collection, obj.id, o.type.version, mapped, tenant, createdGroups, o.displayName);
          written.push(obj);
        }
        // Targets the document no longer reaches: their objects go.
        for (const e of existing) if (!mapped.objects.some((o) => o.target === e.target)) await this.deleteObject(c.kind, e.object.id, e.version);
        return written.map((object) => ({ object }));
      }
      case 'EnrollmentProfile': {
        const m = mapEnrollmentProfile(c.document as EnrollmentProfileDocument, tenant.groupIds);
        if ('refused' in m) throw new BackendError('invalid', `EnrollmentProfile/${c.name}: ${m.refused}`);
        const path = '/deviceManagement/androidDeviceOwnerEnrollmentProfiles';
        if (now) {
          const id = now.objects[0]!.object.id;
          await this.graph.request({ method: 'PATCH', path: `${path}/${seg(id)}`, version: 'beta', body: m.body, retry: 'safe', write: true, action: `update enrollment profile ${m.body.displayName}` });
          return [{ object: { ...now.objects[0]!.object, ...m.body } }];
        }
        const created = await this.graph.request<GraphObject>({ method: 'POST', path, version: 'beta', body: m.body, retry: 'unsafe', write: true, action: `create enrollment profile ${m.body.displayName}` });
        return [{ object: created.body }];
      }
    }
  }

  /** Entra device object ids of a static group's entries (managed device ids or serial numbers). */
  private async resolveMembers(group: string, entries: readonly string[]): Promise<string[]> {
    const ids: string[] = [];
    const missing: string[] = [];
    for (const entry of entries) {
      let device: ManagedDevice | undefined;
      if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(entry)) {
        device = await this.graph.get<ManagedDevice>(`/deviceManagement/managedDevices/${seg(entry)}`, { query: { $select: 'id,azureADDeviceId' }, action: 'read a managed device' }).catch((error: unknown) => {
          if (error instanceof BackendError && error.code === 'not_found') return undefined;
          throw error;
        });
      }
      device ??= (await this.graph.get<{ value: ManagedDevice[] }>('/deviceManagement/managedDevices', { query: { $filter: `serialNumber eq '${entry.replace(/'/g, "''")}'`, $select: 'id,azureADDeviceId' }, action: 'find a managed device by serial' })).value[0];
      const aad = typeof device?.azureADDeviceId === 'string' ? device.azureADDeviceId : undefined;
      const entra = aad ? (await this.graph.get<{ value: Array<{ id: string }> }>('/devices', { query: { $filter: `deviceId eq '${aad.replace(/'/g, "''")}'`, $select: 'id,deviceId' }, action: 'find an Entra device' })).value[0] : undefined;
      if (entra) ids.push(entra.id);
      else missing.push(entry);
    }
    if (missing.length) throw new BackendError('invalid', `Group/${group}: no Intune device with id or serial ${missing.map((m) => `"${m}"`).join(', ')} (a static group lists managed device ids or serial numbers); nothing was applied`);
    return [...new Set(ids)];
  }

  /** A group's device members (users and other objects left out). */
  private async deviceMembers(groupId: string): Promise<Array<{ id: string; deviceId?: string }>> {
    const all = await this.graph.all<{ id: string; deviceId?: string; '@odata.type'?: string }>(`/groups/${seg(groupId)}/members`, { query: { $select: 'id,deviceId' }, action: 'read group members' });
    return all.filter((m) => m['@odata.type'] === undefined || m['@odata.type'] === '#microsoft.graph.device');
  }

  /** Makes a static group's members exactly these Entra device objects. */
  private async syncMembers(groupId: string, wanted: string[], fresh: boolean): Promise<void> {
    const have = fresh ? [] : (await this.deviceMembers(groupId)).map((m) => m.id);
    for (const id of wanted.filter((w) => !have.includes(w))) {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.graph.request({ method: 'POST', path: `/groups/${seg(groupId)}/members/$ref`, body: { '@odata.id': `${this.graph.url(`/directoryObjects/${seg(id)}`)}` }, retry: 'safe', write: true, action: 'add a device to a group' });
          break;
        } catch (error) {
          // A replay of an add that landed: the member is there, which is the goal.
          if (error instanceof BackendError && error.code === 'invalid' && /already exist/i.test(error.message)) break;
          // A group created moments ago may not be visible yet (directory replication).
          if (!(fresh && error instanceof BackendError && error.code === 'not_found' && attempt < 8)) throw error;
          await this.sleepMs(Math.min(8_000, 250 * 2 ** (attempt - 1)));
        }
      }
    }
    for (const id of have.filter((h) => !wanted.includes(h))) {
      await this.graph.request({ method: 'DELETE', path: `/groups/${seg(groupId)}/members/${seg(id)}/$ref`, retry: 'safe', write: true, action: 'remove a device from a group' });
    }
  }

  /**
   * Replaces the object's assignments. A group created moments ago may not be visible to Intune
   * yet (directory replication): that refusal is retried with backoff, not reported as a failure.
   */
  private async assign(collection: string, id: string, version: GraphVersion, mapped: MappedPolicy, tenant: Tenant, createdGroups: ReadonlySet<string>, what: string): Promise<void> {
    const kindOfAssignment = collection.endsWith('deviceConfigurations') ? '#microsoft.graph.deviceConfigurationAssignment' : '#microsoft.graph.deviceCompliancePolicyAssignment';
    const assignments = mapped.assign.map((g) => ({
      '@odata.type': kindOfAssignment,
      target: g === 'all' ? { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } : { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: tenant.groupIds.get(g) },
    }));
    const fresh = mapped.assign.some((g) => createdGroups.has(g));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.graph.request({ method: 'POST', path: `${collection}/${seg(id)}/assign`, version, body: { assignments }, retry: 'safe', write: true, action: `assign ${what} to ${mapped.assign.join(', ')}` });
        return;
      } catch (error) {
        const notYet = error instanceof BackendError && (error.code === 'not_found' || error.code === 'invalid') && fresh && attempt < 8;
        if (!notYet) throw error;
        this.target.debug?.(`assign ${what}: a new group is not visible yet (attempt ${attempt}); retrying`);
        await this.sleepMs(Math.min(8_000, 250 * 2 ** (attempt - 1)));
      }
    }
  }

  private sleepMs(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  private async deleteObject(kind: ResourceKind, id: string, version: GraphVersion): Promise<void> {
    const path =
      kind === 'Group'
        ? `/groups/${seg(id)}`
        : kind === 'Policy'
          ? `/deviceManagement/deviceConfigurations/${seg(id)}`
          : kind === 'CompliancePolicy'
            ? `/deviceManagement/deviceCompliancePolicies/${seg(id)}`
            : `/deviceManagement/androidDeviceOwnerEnrollmentProfiles/${seg(id)}`;
    try {
      await this.graph.request({ method: 'DELETE', path, version, retry: 'safe', write: true, action: `delete ${kind} object ${id}` });
    } catch (error) {
      // Gone already (a replayed delete, or removed in the portal meanwhile): the goal is met.
      if (!(error instanceof BackendError && error.code === 'not_found')) throw error;
    }
  }

  // ---- adopting what emmctl does not own ----

  /**
   * Objects in the tenant emmctl does not own but can express as documents: dynamic device groups
   * with a rule emmctl writes, and configuration or compliance policies of the types it maps whose
   * assignments resolve to such groups (or all devices) and reach exactly that one type. With
   * `apply`, each is taken over: renamed `emmctl:…` and marked, its settings left as they are, so
   * the next plan of the exported files reports no changes. Everything else is listed with why.
   */
  async adopt(opts: { apply: boolean }): Promise<AdoptResult> {
    const tenant = await this.readTenant();
    const owned = new Set([...tenant.resources.values()].flatMap((r) => r.objects.map((o) => o.object.id)));
    const taken = new Set([...tenant.resources.values()].map((r) => keyOf(r.kind, r.name)));
    const nameFor = (kind: ResourceKind, displayName: unknown) => {
      const base = slug(String(displayName ?? '')) || kind.toLowerCase();
      let name = base;
      for (let i = 2; taken.has(keyOf(kind, name)); i++) name = `${base.slice(0, 60)}-${i}`;
      taken.add(keyOf(kind, name));
      return name;
    };
    const result: AdoptResult = { adopted: [], skipped: [] };
    const writes: Array<() => Promise<void>> = [];
    const groupNames = new Map(tenant.groupNames);
    const groupDocs = new Map<string, GroupDocument>();
    for (const r of tenant.resources.values()) if (r.kind === 'Group') groupDocs.set(r.name, this.toStored(r, tenant.groupNames).document as GroupDocument);

    const select = 'id,displayName,description,groupTypes,membershipRule,membershipRuleProcessingState';
    const groups = await this.graph.all<GraphObject>('/groups', { query: { $filter: 'securityEnabled eq true', $select: select }, action: 'read groups' }).catch(async (error: unknown) => {
      if (!(error instanceof BackendError) || error.code !== 'invalid') throw error;
      return this.graph.all<GraphObject>('/groups', { query: { $select: select }, action: 'read groups' });
    });
    for (const g of groups) {
      if (owned.has(g.id) || !Array.isArray(g.groupTypes) || !g.groupTypes.includes('DynamicMembership')) continue;
      const name = nameFor('Group', g.displayName);
      const { doc, why } = adoptGroup(g, name);
      if (!doc) {
        taken.delete(keyOf('Group', name));
        result.skipped.push({ what: `group "${String(g.displayName)}"`, why: why! });
        continue;
      }
      groupNames.set(g.id, name);
      groupDocs.set(name, doc);
      result.adopted.push({ kind: 'Group', name, from: String(g.displayName) });
      const body = mapGroup(doc).body;
      writes.push(async () => {
        await this.graph.request({ method: 'PATCH', path: `/groups/${seg(g.id)}`, body: { displayName: body.displayName, description: body.description }, retry: 'safe', write: true, action: `adopt group ${String(g.displayName)}` });
      });
    }
    for (const kind of ['Policy', 'CompliancePolicy'] as const) {
      const collection = kind === 'Policy' ? '/deviceManagement/deviceConfigurations' : '/deviceManagement/deviceCompliancePolicies';
      const types = kind === 'Policy' ? CONFIGURATION_TYPES : COMPLIANCE_TYPES;
      for (const version of ['v1.0', 'beta'] as const) {
        const expand = kind === 'Policy' ? 'assignments' : 'assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)';
        for (const o of await this.graph.all<GraphObject>(collection, { version, query: { $expand: expand }, action: `read ${kind === 'Policy' ? 'device configurations' : 'compliance policies'}` })) {
          const target = targetOfType(o['@odata.type'], types);
          if (owned.has(o.id) || (target && types[target].version !== version)) continue;
          owned.add(o.id);
          const label = `${kind === 'Policy' ? 'configuration' : 'compliance policy'} "${String(o.displayName)}"`;
          if (!target) {
            result.skipped.push({ what: label, why: `its type ${String(o['@odata.type'])} is not one emmctl maps` });
            continue;
          }
          const name = nameFor(kind, o.displayName);
          const bare: Marker = { kind, name, ...(typeof o.description === 'string' && o.description ? { description: o.description } : {}) };
          const { assign, foreign } = readAssign([{ target, object: o }], groupNames, undefined);
          const fail = (why: string) => {
            taken.delete(keyOf(kind, name));
            result.skipped.push({ what: label, why });
          };
          if (foreign.length) {
            fail(`it is assigned to groups emmctl cannot adopt (${foreign.join(', ')})`);
            continue;
          }
          if (!assign.length) {
            fail('it is not assigned to any group');
            continue;
          }
          const doc = kind === 'Policy' ? readPolicy(bare, [{ target, object: o }], groupNames) : readCompliance(bare, [{ target, object: o }], groupNames);
          const reach = targetsFor(doc.spec.assign, groupDocs);
          if (reach.length !== 1 || reach[0] !== target) {
            fail(`its groups reach ${reach.join(', ')}, not only the ${target} type it is: emmctl would add objects for the other platforms`);
            continue;
          }
          const mapped = kind === 'Policy' ? mapPolicy(doc as PolicyDocument, groupDocs) : mapCompliance(doc as CompliancePolicyDocument, groupDocs);
          const mine = mapped.objects[0]!;
          result.adopted.push({ kind, name, from: String(o.displayName) });
          writes.push(async () => {
            await this.graph.request({ method: 'PATCH', path: `${collection}/${seg(o.id)}`, version, body: { '@odata.type': o['@odata.type'], displayName: mine.displayName, description: mine.body.description }, retry: 'safe', write: true, action: `adopt ${label}` });
          });
        }
      }
    }
    if (opts.apply) {
      for (const w of writes) await w();
      for (const a of result.adopted) this.audit('adopt', `${a.kind}/${a.name}`, { from: a.from });
    }
    return result;
  }

  // ---- enrollment ----

  private async profileObject(name: string): Promise<GraphObject> {
    const tenant = await this.readTenant();
    const r = tenant.resources.get(keyOf('EnrollmentProfile', name));
    if (!r) throw new BackendError('not_found', `no EnrollmentProfile "${name}" in Intune`, { hint: 'apply it first; in Intune only corporate Android profiles exist as objects' });
    return r.objects[0]!.object;
  }

  async createEnrollmentToken(input: { profile: string; expiresInSeconds?: number; maxUses?: number }): Promise<CreatedEnrollmentToken> {
    const profile = await this.profileObject(input.profile);
    if (input.maxUses !== undefined) throw new BackendError('invalid', 'Intune enrollment tokens have no use limit (--max-uses): they work until they expire or are revoked');
    const seconds = Math.max(60, Math.min(input.expiresInSeconds ?? 7 * 86_400, 90 * 86_400));
    const path = `/deviceManagement/androidDeviceOwnerEnrollmentProfiles/${seg(profile.id)}`;
    await this.graph.request({ method: 'POST', path: `${path}/createToken`, version: 'beta', body: { tokenValidityInSeconds: seconds }, retry: 'unsafe', write: true, action: `create an enrollment token for ${input.profile}` });
    const fresh = await this.graph.get<GraphObject>(path, { version: 'beta', action: 'read the enrollment token' });
    const secret = typeof fresh.tokenValue === 'string' ? fresh.tokenValue : '';
    if (!secret) throw new BackendError('protocol', `Intune created no token value for ${input.profile}`);
    this.audit('token.create', `EnrollmentProfile/${input.profile}`, {});
    // The QR payload Android's setup wizard reads (provisioning extras with the token), when Intune gives one.
    const qr = typeof fresh.qrCodeContent === 'string' && fresh.qrCodeContent ? { enrollmentUrl: fresh.qrCodeContent } : {};
    return { token: tokenOf(fresh, input.profile, this.actor), secret, ...qr };
  }

  async listEnrollmentTokens(): Promise<EnrollmentToken[]> {
    const tenant = await this.readTenant();
    return [...tenant.resources.values()]
      .filter((r) => r.kind === 'EnrollmentProfile' && typeof r.objects[0]!.object.tokenExpirationDateTime === 'string')
      .map((r) => tokenOf(r.objects[0]!.object, r.name, 'intune'));
  }

  async revokeEnrollmentToken(id: string): Promise<EnrollmentToken> {
    const tenant = await this.readTenant();
    const r = [...tenant.resources.values()].find((x) => x.kind === 'EnrollmentProfile' && tokenId(x.objects[0]!.object) === id);
    if (!r) throw new BackendError('not_found', `no enrollment token ${id}`, { hint: 'list them with `emmctl enroll token list`' });
    const path = `/deviceManagement/androidDeviceOwnerEnrollmentProfiles/${seg(r.objects[0]!.object.id)}`;
    await this.graph.request({ method: 'POST', path: `${path}/revokeToken`, version: 'beta', retry: 'safe', write: true, action: `revoke the enrollment token of ${r.name}` });
    this.audit('token.revoke', `EnrollmentProfile/${r.name}`, { token: id });
    return { ...tokenOf(r.objects[0]!.object, r.name, 'intune'), revoked: true };
  }

  /** Windows Autopilot: pre-registration needs the hardware hash (CSV column `hardwareHash`). */
  async preregisterDevices(rows: PreregisteredDevice[]): Promise<{ created: number; updated: number }> {
    const problems = rows.flatMap((r) => (r.platform !== 'windows' ? [`${r.serial}: Intune pre-registers Windows devices only (Autopilot), not ${r.platform}`] : !r.hardwareHash ? [`${r.serial}: no hardwareHash (Autopilot needs the device's hardware hash)`] : []));
    if (problems.length) throw new BackendError('invalid', `cannot import into Intune: ${problems.join('; ')}; nothing was imported`, { hint: 'export the hash on the device with Get-WindowsAutopilotInfo and add a hardwareHash column' });
    const existing = await this.graph.all<GraphObject>('/deviceManagement/importedWindowsAutopilotDeviceIdentities', { action: 'read Autopilot imports' });
    const known = new Set(existing.map((e) => String(e.serialNumber ?? '')));
    let created = 0;
    let updated = 0;
    for (const r of rows) {
      if (known.has(r.serial)) {
        updated++;
        continue;
      }
      await this.graph.request({
        method: 'POST', path: '/deviceManagement/importedWindowsAutopilotDeviceIdentities', retry: 'unsafe', write: true, action: `import Autopilot device ${r.serial}`,
        body: {
          '@odata.type': '#microsoft.graph.importedWindowsAutopilotDeviceIdentity',
          serialNumber: r.serial,
          hardwareIdentifier: r.hardwareHash,
          ...(r.owner ? { assignedUserPrincipalName: r.owner } : {}),
          ...(r.labels?.groupTag ? { groupTag: r.labels.groupTag } : {}),
        },
      });
      created++;
    }
    this.audit('device.preregister', 'autopilot', { created, updated });
    return { created, updated };
  }

  // ---- devices ----

  private async *managedDevices(query: DeviceQuery, select = DEVICE_SELECT): AsyncGenerator<{ items: ManagedDevice[]; nextLink?: string }> {
    const filter = graphFilter(query.filters ?? []);
    if (query.cursor) {
      yield* this.graph.pages<ManagedDevice>(decodeCursor(query.cursor), { action: 'list managed devices' });
      return;
    }
    yield* this.graph.pages<ManagedDevice>('/deviceManagement/managedDevices', { query: { $select: select, $filter: filter, $top: String(Math.min(query.limit ?? 100, 1000)) }, action: 'list managed devices' });
  }

  private async deviceGroups(filters: DeviceQuery['filters']): Promise<Map<string, Set<string>> | undefined> {
    const names = [...new Set((filters ?? []).filter((f) => f.field === 'group').map((f) => f.value))];
    if (!names.length) return undefined;
    const tenant = await this.readTenant();
    const byAzureId = new Map<string, Set<string>>();
    for (const name of names) {
      if (name === 'all') continue;
      const id = tenant.groupIds.get(name);
      if (!id) continue;
      const members = await this.deviceMembers(id);
      for (const m of members) if (m.deviceId) (byAzureId.get(m.deviceId) ?? byAzureId.set(m.deviceId, new Set()).get(m.deviceId)!).add(name);
    }
    return byAzureId;
  }

  private async pageOf<T>(query: DeviceQuery, make: (d: ManagedDevice) => Promise<T> | T, test: (d: ManagedDevice, groups?: Set<string>) => boolean): Promise<Page<T>> {
    const memberships = await this.deviceGroups(query.filters);
    const limit = query.limit ?? 100;
    const groupsOf = (d: ManagedDevice) => {
      const g = new Set(memberships?.get(String(d.azureADDeviceId ?? '')) ?? []);
      g.add('all');
      return g;
    };
    if (query.sort) {
      // Graph sorts managedDevices by few properties; emmctl sorts the whole (filtered) listing itself.
      const all: ManagedDevice[] = [];
      for await (const p of this.managedDevices({ ...query, cursor: undefined, limit: 1000 })) all.push(...p.items.filter((d) => test(d, groupsOf(d))));
      const desc = query.sort.startsWith('-');
      const field = desc ? query.sort.slice(1) : query.sort;
      const rows = all.map((d) => ({ d, dev: toDevice(d) }));
      rows.sort((a, b) => {
        const c = sortCompare(a.dev, b.dev, field);
        return (desc ? -c : c) || (a.dev.id < b.dev.id ? -1 : a.dev.id > b.dev.id ? 1 : 0);
      });
      const offset = query.cursor ? Number(Buffer.from(query.cursor, 'base64url').toString().replace(/^o:/, '')) || 0 : 0;
      const slice = rows.slice(offset, offset + limit);
      const items = await Promise.all(slice.map((r) => make(r.d)));
      return { items, ...(offset + limit < rows.length ? { nextCursor: Buffer.from(`o:${offset + limit}`).toString('base64url') } : {}) };
    }
    const items: T[] = [];
    let nextLink: string | undefined;
    for await (const p of this.managedDevices(query)) {
      for (const d of p.items) if (test(d, groupsOf(d))) items.push(await make(d));
      nextLink = p.nextLink;
      break;
    }
    return { items, ...(nextLink ? { nextCursor: encodeCursor(nextLink) } : {}) };
  }

  async listDevices(query: DeviceQuery): Promise<Page<Device>> {
    const filters = query.filters ?? [];
    return this.pageOf(query, toDevice, (d, g) => filters.every((f) => deviceMatches(toDevice(d), complianceStatusOf(d), f, g)));
  }

  private async policyStates(id: string): Promise<PolicyState[]> {
    return this.graph.all<PolicyState>(`/deviceManagement/managedDevices/${seg(id)}/deviceCompliancePolicyStates`, { action: 'read per-policy compliance' });
  }

  async listCompliance(query: ComplianceQuery): Promise<Page<DeviceCompliance>> {
    if (query.at !== undefined) throw new BackendError('invalid', 'Intune evaluates compliance itself: a what-if at another time (--at) is not available for an intune context');
    const filters = query.filters ?? [];
    const page = await this.pageOf(
      query,
      (d) => d,
      (d, g) => d.managementState !== 'wipeIssued' && d.managementState !== 'retireIssued' ? filters.every((f) => deviceMatches(toDevice(d), complianceStatusOf(d), f, g)) : filters.some((f) => f.field === 'state'),
    );
    // Failing rules of the devices that are not compliant, read 20 devices per $batch.
    const failing = page.items.filter((d) => complianceStatusOf(d) !== 'compliant');
    const answers = await this.graph.batch(failing.map((d) => ({ method: 'GET' as const, path: `/deviceManagement/managedDevices/${seg(String(d.id))}/deviceCompliancePolicyStates`, retry: 'safe' as const, action: 'read per-policy compliance' })));
    const states = new Map<string, PolicyState[]>();
    failing.forEach((d, i) => {
      const a = answers[i]!;
      if (a instanceof Error) throw a;
      const value = (a.body as { value?: PolicyState[] } | undefined)?.value;
      states.set(String(d.id), Array.isArray(value) ? value : []);
    });
    return { items: page.items.map((d) => toCompliance(d, states.get(String(d.id)) ?? [])), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  async getDevice(id: string): Promise<DeviceDetail> {
    let d: ManagedDevice;
    try {
      d = await this.graph.get<ManagedDevice>(`/deviceManagement/managedDevices/${seg(id)}`, { query: { $select: DEVICE_SELECT }, action: 'read a managed device' });
    } catch (error) {
      if (error instanceof BackendError && (error.code === 'not_found' || error.code === 'invalid')) throw new BackendError('not_found', `no device ${id} in Intune`);
      throw error;
    }
    const states = await this.policyStates(id);
    // The emmctl groups whose Entra group holds this device (dynamic rules evaluated by Entra).
    const tenant = await this.readTenant();
    const groups = ['all'];
    for (const [name, groupId] of [...tenant.groupIds].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if ((await this.deviceMembers(groupId)).some((m) => m.deviceId && m.deviceId === d.azureADDeviceId)) groups.push(name);
    }
    return {
      ...toDevice(d),
      groups,
      compliance: toCompliance(d, states),
      effectiveConfiguration: { version: '', settings: {}, sources: {} },
      commands: (await this.listCommands({ deviceId: id, limit: 50 })).items,
    };
  }

  async releaseDevice(): Promise<Device> {
    throw new BackendError('invalid', 'Intune has no re-enrollment release: a device re-enrolls with a new token, and Intune replaces its record (`emmctl devices release` works against emmctl stores only)');
  }

  // ---- commands ----

  async enqueueCommands(request: EnqueueRequest): Promise<EnqueueResult> {
    const replay = this.ledger.savedRequest<EnqueueResult>(request.idempotencyKey);
    if (replay) return replay;
    const devices: Array<{ id: string; device?: ManagedDevice }> = [];
    for (const id of request.deviceIds) {
      try {
        devices.push({ id, device: await this.graph.get<ManagedDevice>(`/deviceManagement/managedDevices/${seg(id)}`, { query: { $select: 'id,managementState,deviceName' }, action: 'read a managed device' }) });
      } catch (error) {
        if (error instanceof BackendError && error.code === 'not_found') throw new BackendError('not_found', `no device ${id} in Intune; nothing was sent`);
        throw error;
      }
    }
    const results: EnqueueResult['results'] = [];
    const toSend: Array<{ index: number; command: DeviceCommand }> = [];
    const now = new Date().toISOString();
    for (const { id, device } of devices) {
      if (device?.managementState === 'wipeIssued' || device?.managementState === 'retireIssued') {
        results.push({ deviceId: id, outcome: 'skipped', message: `the device is ${device.managementState === 'wipeIssued' ? 'wiped' : 'retired'}` });
        continue;
      }
      const command: DeviceCommand = { id: `cmd_${randomBytes(8).toString('hex')}`, deviceId: id, type: request.type, status: 'queued', ...(request.reason ? { reason: request.reason } : {}), requestedBy: this.actor, createdAt: now, updatedAt: now };
      let claim = this.ledger.claim(id, request.type, command.id);
      if (!claim.ok) {
        const holder = await this.refreshCommand(claim.holder);
        const repeatable = request.type === 'lock' || request.type === 'reboot';
        // A wipe or retire is never sent twice; a lock or reboot again only after the last one ended.
        if (repeatable && holder && ['acknowledged', 'failed', 'cancelled', 'expired'].includes(holder.status) && this.ledger.release(id, request.type, claim.holder)) {
          claim = this.ledger.claim(id, request.type, command.id);
        }
        if (!claim.ok) {
          results.push({ deviceId: id, outcome: 'pending', ...(holder ? { command: holder } : {}), message: `a ${request.type} was already sent to this device` });
          continue;
        }
      }
      this.ledger.saveCommand(command);
      toSend.push({ index: results.length, command });
      results.push({ deviceId: id, outcome: 'queued', command });
    }
    const ACTION: Record<string, string> = { lock: 'remoteLock', reboot: 'rebootNow', wipe: 'wipe', retire: 'retire' };
    const answers = await this.graph.batch(toSend.map(({ command }) => ({
      method: 'POST', path: `/deviceManagement/managedDevices/${seg(command.deviceId)}/${ACTION[command.type]}`, retry: 'unsafe', action: `${ACTION[command.type]} device ${command.deviceId}`,
      ...(command.type === 'wipe' ? { body: { keepEnrollmentData: false, keepUserData: false } } : {}),
    })));
    let lost = 0;
    const failures: string[] = [];
    for (const [i, { index, command }] of toSend.entries()) {
      const a = answers[i]!;
      const sent = new Date().toISOString();
      if (a instanceof OutcomeUnknownError) {
        lost++;
        // The claim stays: never sent again; the device's action results will tell.
        const c = { ...command, status: 'sent' as const, detail: 'the answer from Intune was lost: it may have been sent', updatedAt: sent, sentAt: command.createdAt };
        this.ledger.saveCommand(c);
        results[index] = { ...results[index]!, command: c };
      } else if (a instanceof BackendError) {
        const c = { ...command, status: 'failed' as const, detail: a.message, updatedAt: sent };
        this.ledger.saveCommand(c);
        this.ledger.release(command.deviceId, command.type, command.id);
        failures.push(`${command.deviceId}: ${a.message}`);
        results[index] = { deviceId: command.deviceId, outcome: 'skipped', command: c, message: a.message };
      } else {
        const c = { ...command, status: 'sent' as const, updatedAt: sent, sentAt: command.createdAt };
        this.ledger.saveCommand(c);
        results[index] = { ...results[index]!, command: c };
        this.audit(`command.${command.type}`, `device/${command.deviceId}`, { command: command.id, ...(command.reason ? { reason: command.reason } : {}) });
      }
    }
    const result = { results };
    this.ledger.saveRequest(request.idempotencyKey, result);
    if (lost) throw new OutcomeUnknownError(`${lost} ${request.type} command${lost === 1 ? '' : 's'} may have been sent to Intune (the answer was lost); running it again is safe: emmctl never sends a second ${request.type} for them`, { hint: `follow them with \`emmctl commands list --type ${request.type}\`` });
    return result;
  }

  /** Follows a command through the device's deviceActionResults. */
  private async refreshCommand(id: string): Promise<DeviceCommand | undefined> {
    const c = this.ledger.getCommand(id);
    if (!c || ['acknowledged', 'failed', 'cancelled', 'expired'].includes(c.status)) return c;
    if (c.status !== 'sent') return c;
    let device: ManagedDevice;
    try {
      device = await this.graph.get<ManagedDevice>(`/deviceManagement/managedDevices/${seg(c.deviceId)}`, { query: { $select: 'id,deviceActionResults,managementState' }, action: 'read device action results' });
    } catch (error) {
      if (error instanceof BackendError && error.code === 'not_found' && (c.type === 'wipe' || c.type === 'retire')) {
        const done = { ...c, status: 'acknowledged' as const, detail: 'the device is no longer in Intune', updatedAt: new Date().toISOString() };
        this.ledger.saveCommand(done);
        return done;
      }
      throw error;
    }
    const ACTION: Record<string, string> = { lock: 'remotelock', reboot: 'rebootnow', wipe: 'wipe', retire: 'retire' };
    const since = Date.parse(c.sentAt ?? c.createdAt) - 120_000;
    const results = ((device.deviceActionResults as Array<{ actionName?: string; actionState?: string; startDateTime?: string; lastUpdatedDateTime?: string }> | undefined) ?? [])
      .filter((r) => String(r.actionName ?? '').toLowerCase() === ACTION[c.type] && Date.parse(r.startDateTime ?? '') >= since)
      .sort((a, b) => String(b.lastUpdatedDateTime ?? '').localeCompare(String(a.lastUpdatedDateTime ?? '')));
    const r = results[0];
    if (!r) return c;
    const STATE: Record<string, DeviceCommand['status']> = { done: 'acknowledged', failed: 'failed', notSupported: 'failed', canceled: 'cancelled', pending: 'sent', active: 'sent', none: 'sent' };
    const status = STATE[r.actionState ?? ''] ?? 'sent';
    if (status === c.status) return c;
    const next = { ...c, status, updatedAt: r.lastUpdatedDateTime ?? new Date().toISOString(), ...(r.actionState === 'notSupported' ? { detail: 'the device does not support this action' } : {}) };
    this.ledger.saveCommand(next);
    return next;
  }

  async listCommands(query: CommandQuery): Promise<Page<DeviceCommand>> {
    let all = this.ledger.listCommands();
    if (query.deviceId) all = all.filter((c) => c.deviceId === query.deviceId);
    if (query.type) all = all.filter((c) => c.type === query.type);
    const refreshed: DeviceCommand[] = [];
    for (const c of all) refreshed.push((await this.refreshCommand(c.id)) ?? c);
    const filtered = query.status ? refreshed.filter((c) => c.status === query.status) : refreshed;
    const offset = query.cursor ? Number(query.cursor) || 0 : 0;
    const limit = query.limit ?? 100;
    return { items: filtered.slice(offset, offset + limit).map(stripLedger), ...(offset + limit < filtered.length ? { nextCursor: String(offset + limit) } : {}) };
  }

  async getCommand(id: string): Promise<DeviceCommand> {
    const c = await this.refreshCommand(id);
    if (!c) throw new BackendError('not_found', `no command ${id} in this machine's Intune ledger`, { hint: 'emmctl knows the commands it sent from this machine; Intune lists all device actions in the portal' });
    return stripLedger(c);
  }

  async cancelCommand(id: string): Promise<DeviceCommand> {
    await this.getCommand(id);
    throw new BackendError('invalid', 'Intune cannot cancel a device action once it is sent (Graph has no cancel for remoteLock, rebootNow, wipe or retire)', { hint: 'for a wipe still pending on the device, the Intune portal offers "Cancel wipe"' });
  }

  // ---- audit ----

  private audit(action: string, target: string, detail: Record<string, unknown>): void {
    this.ledger.audit({ id: `aud_${Date.now().toString(36)}${randomBytes(4).toString('hex')}`, at: new Date().toISOString(), actor: this.actor, source: 'local', action, target, detail });
  }

  async listAudit(query: AuditQuery): Promise<Page<AuditRecord>> {
    if (query.order !== undefined && query.order !== 'asc' && query.order !== 'desc') throw new BackendError('invalid', 'order must be asc or desc');
    let records = this.ledger.auditRecords();
    if (query.since) records = records.filter((r) => r.at >= new Date(query.since!).toISOString());
    if (query.actor) records = records.filter((r) => r.actor === query.actor);
    if (query.order === 'desc') records = records.reverse();
    const offset = query.cursor ? Number(query.cursor) || 0 : 0;
    const limit = query.limit ?? 100;
    return { items: records.slice(offset, offset + limit), ...(offset + limit < records.length ? { nextCursor: String(offset + limit) } : {}) };
  }

  async notifyChannels(): Promise<number> {
    // Intune sends its own notification e-mails (notification templates); emmctl has no channel of its own.
    return 1;
  }

  async close(): Promise<void> {
    this.graph.close();
  }
}

export async function openIntuneBackend(target: IntuneBackendTarget): Promise<IntuneBackend> {
  return new IntuneBackend(target);
}

function localActor(): string {
  let user = process.env.USER ?? process.env.USERNAME ?? 'unknown';
  try {
    user = userInfo().username || user;
  } catch {
    // No passwd entry: the environment.
  }
  return `local:${user}`;
}

const seg = (s: string) => encodeURIComponent(s);

function encodeCursor(nextLink: string): string {
  return Buffer.from(`n:${nextLink}`).toString('base64url');
}
function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString();
  if (!text.startsWith('n:')) throw new BackendError('invalid', 'not a cursor of this listing');
  return text.slice(2);
}

function sortCompare(a: Device, b: Device, field: string): number {
  const va = (a as unknown as Record<string, unknown>)[field];
  const vb = (b as unknown as Record<string, unknown>)[field];
  if (field === 'osVersion') {
    return compareVersions(String(va ?? ''), String(vb ?? ''));
  }
  return String(va ?? '').localeCompare(String(vb ?? ''));
}

function stripLedger(c: DeviceCommand & { sentAt?: string }): DeviceCommand {
  const { sentAt: _s, ...rest } = c;
  return rest;
}

function tokenId(profile: Record<string, unknown>): string {
  return `et_${createHash('sha256').update(`${profile.id}:${profile.tokenCreationDateTime ?? ''}`).digest('hex').slice(0, 16)}`;
}

function tokenOf(profile: Record<string, unknown>, name: string, createdBy: string): EnrollmentToken {
  const expires = String(profile.tokenExpirationDateTime ?? new Date(0).toISOString());
  return {
    id: tokenId(profile),
    profile: name,
    createdAt: String(profile.tokenCreationDateTime ?? profile.lastModifiedDateTime ?? new Date(0).toISOString()),
    expiresAt: expires,
    uses: typeof profile.enrollmentTokenUsageCount === 'number' ? profile.enrollmentTokenUsageCount : 0,
    revoked: !profile.tokenValue && Date.parse(expires) > Date.now(),
    createdBy,
  };
}

function complianceNeedsBeta(m: Marker): boolean {
  return Array.isArray(m.x?.actions) && (m.x!.actions as Array<{ do?: string }>).some((a) => a.do === 'lock');
}

/**
 * Dependency order: only groups are referenced in Intune (by assignments), so group upserts go
 * first; the other upserts keep the caller's order (plan order); deletions after, in reverse.
 */
function orderChanges(changes: ResourceChange[]): ResourceChange[] {
  const rank = (k: ResourceKind) => KIND_ORDER.indexOf(k);
  const upserts = changes.filter((c) => c.op !== 'delete');
  const deletes = changes.filter((c) => c.op === 'delete').sort((a, b) => rank(b.kind) - rank(a.kind));
  return [...upserts.filter((c) => c.kind === 'Group'), ...upserts.filter((c) => c.kind !== 'Group'), ...deletes];
}

function partialApplyError(error: unknown, failed: ResourceChange, applied: AppliedChange[], rest: ResourceChange[]): EmmctlError {
  const why = error instanceof Error ? error.message : String(error);
  const done = applied.length ? applied.map((a) => `${a.op} ${a.kind}/${a.name}`).join(', ') : 'nothing';
  const notDone = [`${failed.op} ${failed.kind}/${failed.name}`, ...rest.map((c) => `${c.op} ${c.kind}/${c.name}`)].join(', ');
  const unknown = error instanceof OutcomeUnknownError;
  const message = `apply stopped at ${failed.op} ${failed.kind}/${failed.name}: ${why}. Applied: ${done}. Not applied: ${notDone}${unknown ? ` (${failed.kind}/${failed.name} may be partly applied)` : ''}`;
  const hint = 'Intune applies change by change (no transaction): run `emmctl plan` to see what is left, fix the cause, then `emmctl apply` again; it continues from where this one stopped';
  if (unknown) return new OutcomeUnknownError(message, { hint, cause: error });
  return new EmmctlError(message, { hint, cause: error });
}

/**
 * Intune has no priority: where two Policies set one field differently for one group, the
 * device gets one of them, and Intune reports the setting as a conflict. Said at plan time.
 */
export function priorityConflicts(policies: readonly PolicyDocument[], groups: ReadonlyMap<string, GroupDocument>): string[] {
  const out: string[] = [];
  for (let i = 0; i < policies.length; i++) {
    for (let j = i + 1; j < policies.length; j++) {
      const a = policies[i]!;
      const b = policies[j]!;
      const shared = a.spec.assign.filter((g) => b.spec.assign.includes(g) || g === 'all' || b.spec.assign.includes('all'));
      if (!shared.length) continue;
      for (const path of leafPaths(a.spec.settings)) {
        const va = getDotted(a.spec.settings, path);
        const vb = getDotted(b.spec.settings, path);
        if (vb === undefined || JSON.stringify(va) === JSON.stringify(vb)) continue;
        const pa = a.spec.priority ?? 100;
        const pb = b.spec.priority ?? 100;
        const emmctlWinner = pa === pb ? undefined : pa > pb ? a : b;
        out.push(
          `Policy/${a.metadata.name} and Policy/${b.metadata.name} set settings.${path} differently (${JSON.stringify(va)} vs ${JSON.stringify(vb)}) for group ${shared[0]}: Intune has no priority${emmctlWinner ? ` (emmctl would apply Policy/${emmctlWinner.metadata.name}'s)` : ''}; it reports the setting as a conflict on those devices and applies neither value reliably — set it in one policy only`,
        );
      }
    }
  }
  void groups;
  return out;
}
