// A fake Google for the Android channel's tests: a real HTTP server on 127.0.0.1 (port 0) that
// speaks the Android Management API v1 wire format (paths, methods, paging, Operations,
// google.rpc.Status errors), the OAuth 2.0 token endpoint of a service account key (RFC 7523 JWT
// bearer assertions, verified), Pub/Sub push deliveries signed with an OIDC token (JWKS served),
// and simulated Android devices behind it (fake/devices.ts) that enroll with a token, apply the
// policy they are given and report as Android Device Policy does.
//
// Every request body and every response body is checked against Google's discovery document
// (amapi-schema.ts: additionalProperties false, closed enums, proto3 JSON forms), and so are the
// query parameters against the method's documented ones: a mismatch is recorded in
// `schemaErrors`, which the tests using the fake assert empty; a request body that fails is also
// refused with 400 INVALID_ARGUMENT, as Google refuses an unknown field. Without
// ../shared/vendor-specs the checks are skipped and the fake still works.
//
// Where the fake departs from Google, or Google's behaviour is not documented and the fake
// picks the stricter reading:
//  - enrollmentTokens.create and devices.patch refuse a policy that does not exist (400
//    INVALID_ARGUMENT); Google's documentation does not say.
//  - an enterprise the caller does not own answers 403 PERMISSION_DENIED, whether or not it exists.
//  - a deleted device answers 404 at once (devices.delete: "a 404 is returned from
//    enterprises.devices.get"); the wipe is recorded when the delete is carried out, not when the
//    phone would next come online. A company-owned work profile that carried out
//    RELINQUISH_OWNERSHIP leaves the enterprise the same way. Its Operations stay readable.
//  - devices carry out commands and apply policy changes only on report() (their "tick"): no
//    FCM, no timers, so a test decides when a device acts.
//  - issueCommand knows LOCK, REBOOT and RELINQUISH_OWNERSHIP; other types are refused (400). A
//    command the device's mode cannot carry out ends done with a google.rpc.Status error
//    (FAILED_PRECONDITION) and Command.errorCode MANAGEMENT_MODE; one that expired before the
//    device got to it ends with DEADLINE_EXCEEDED. Google does not document either error.
//  - error bodies ({error: {code, message, status, details}}, Google's JSON error form) are not
//    schema-checked: the discovery document's Status has no `status`.
//  - partial responses (`fields`) are not honoured: the whole resource comes back.
//  - the per-project quota (1,000 queries per 100 s) counts by the wall clock, as Google does;
//    access tokens and the token endpoint's checks go by the fake's clock (`now`), so a test can
//    move time; the push OIDC tokens are dated by the wall clock (the verifier checks them so).
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkAmapi, discovery, specsAvailable } from './amapi-schema.js';
import { applyPolicy, catalogue, deviceResource, DPC, modelByName, randomId, realisticHardware, rng, standardHardware, type Hardware, type Rng, type SimDevice } from './fake/devices.js';
import { signJwt, verifyJwt } from './fake/jwt.js';

export const AMAPI_SCOPE = 'https://www.googleapis.com/auth/androidmanagement';
const COMMAND_TYPE = 'type.googleapis.com/google.android.devicemanagement.v1.Command';
const EMPTY_TYPE = 'type.googleapis.com/google.protobuf.Empty';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
  status: number;
  /** The discovery method id (enterprises.devices.issueCommand), `token` or `certs`. */
  call: string;
  /** The request was carried out and its answer dropped (faults.loseNextResponse). */
  lost?: boolean;
}

export interface FakeDevices {
  enroll(tokenValue: string, opts?: EnrollOptions): Promise<string>;
  enrollMany(tokenValue: string, n: number): Promise<string[]>;
  report(name?: string): void;
  set(name: string, patch: DevicePatch): void;
  get(name: string): Record<string, unknown> | undefined;
  executed(name: string): Array<{ type: string; at: string }>;
  /** Names of the devices Google still has (not deleted), sorted. */
  names(): string[];
}

export interface EnrollOptions {
  serial?: string;
  model?: string;
  androidVersion?: string;
  /** false: not encrypted and no screen lock, so the device cannot meet a passcode or encryption setting. */
  compliant?: boolean;
  /** With a PERSONAL_USAGE_ALLOWED token: 'wpc' provisions a company-owned device with a work profile (QR code on a new device) instead of a personal one. */
  mode?: 'fm' | 'wpc' | 'wpp';
}

export type DevicePatch = Partial<{
  encrypted: boolean;
  secure: boolean;
  androidVersion: string;
  patchLevel: string;
  compromised: boolean;
  apps: string[];
  /** The screen lock the user set (secure: true sets a strong one when none is given). */
  passcode: { quality: 'SOMETHING' | 'NUMERIC' | 'NUMERIC_COMPLEX' | 'ALPHABETIC' | 'ALPHANUMERIC' | 'COMPLEX'; length: number } | null;
  /** An offline device does nothing on report(): no policy applied, no command carried out, no status report. */
  online: boolean;
}>;

export type FaultMethod = 'issueCommand' | 'delete' | 'patch' | 'enrollmentTokens.create';

export interface FakeAmapi {
  url: string;
  enterprise: string;
  credentialsFile: string;
  certsUrl: string;
  /** The token endpoint (the key file's token_uri). */
  tokenUri: string;
  requests: FakeRequest[];
  schemaErrors: string[];
  devices: FakeDevices;
  faults: {
    quotaStorm(n: number, retryAfterSeconds?: number): void;
    loseNextResponse(method: FaultMethod | string): void;
    failNext(method: string, status: number, rpcStatus: string): void;
  };
  push: {
    to(url: string, audience: string): void;
    stop(): void;
    /** Resolves once every push queued so far was delivered (2xx) or given up on. */
    flush(): Promise<void>;
    /** projects/P/subscriptions/S that every push names. */
    subscription: string;
    /** The service account Pub/Sub signs the pushes' OIDC token for (the verifier's `email`). */
    email: string;
    deliveries: Array<{ type: string; messageId: string; status: number; attempts: number }>;
  };
  /** Play does not have these packages: FORCE_INSTALLED → APP_NOT_INSTALLED (NOT_FOUND). */
  unavailableApps: Set<string>;
  /**
   * What the admin's browser brings back from the signup page of a signupUrls.create answer (its
   * url or name): the enterpriseToken Google appends to the callback URL. GET <url>signup/<id>
   * answers the same as a 302 to the callback.
   */
  completeSignup(urlOrName: string): string;
  /** How many access tokens the token endpoint issued. */
  tokensIssued(): number;
  close(): Promise<void>;
}

export interface FakeAmapiOptions {
  seed?: number;
  now?: () => Date;
  /** Google's per-project quota on API calls (default 1,000 per 100 s): beyond it, 429 RESOURCE_EXHAUSTED. */
  quota?: { requests: number; perMs: number };
}

interface Policy {
  body: Record<string, unknown>;
  version: number;
}
interface Token {
  name: string;
  value: string;
  policyName: string;
  duration: string;
  expiresAt: number;
  oneTimeOnly: boolean;
  allowPersonalUsage: string;
  additionalData?: string;
  qrCode: string;
  uses: number;
}
interface Op {
  name: string;
  device: string;
  type: string;
  createTime: string;
  expiresAt: number;
  metadata: Record<string, unknown>;
  done: boolean;
  error?: { code: number; message: string };
  errorCode?: string;
}

class HttpError extends Error {
  constructor(readonly httpStatus: number, readonly rpcStatus: string, message: string, readonly extra: { details?: unknown[]; headers?: Record<string, string> } = {}) {
    super(message);
  }
}

// Route table: discovery method id, the schemas of its request and response bodies.
interface Route {
  http: string;
  pattern: RegExp;
  id: string;
  request?: string;
  response: string;
}
const SEG = '([^/:]+)';
const ROUTES: Route[] = [
  { http: 'POST', pattern: /^\/v1\/signupUrls$/, id: 'signupUrls.create', response: 'SignupUrl' },
  { http: 'POST', pattern: /^\/v1\/enterprises$/, id: 'enterprises.create', request: 'Enterprise', response: 'Enterprise' },
  { http: 'GET', pattern: new RegExp(`^/v1/enterprises/${SEG}$`), id: 'enterprises.get', response: 'Enterprise' },
  { http: 'PATCH', pattern: new RegExp(`^/v1/enterprises/${SEG}/policies/${SEG}$`), id: 'enterprises.policies.patch', request: 'Policy', response: 'Policy' },
  { http: 'GET', pattern: new RegExp(`^/v1/enterprises/${SEG}/policies/${SEG}$`), id: 'enterprises.policies.get', response: 'Policy' },
  { http: 'DELETE', pattern: new RegExp(`^/v1/enterprises/${SEG}/policies/${SEG}$`), id: 'enterprises.policies.delete', response: 'Empty' },
  { http: 'GET', pattern: new RegExp(`^/v1/enterprises/${SEG}/policies$`), id: 'enterprises.policies.list', response: 'ListPoliciesResponse' },
  { http: 'GET', pattern: new RegExp(`^/v1/enterprises/${SEG}/devices$`), id: 'enterprises.devices.list', response: 'ListDevicesResponse' },
  { http: 'GET', pattern: new RegExp(`^/v1/enterprises/${SEG}/devices/${SEG}$`), id: 'enterprises.devices.get', response: 'Device' },
  { http: 'PATCH', pattern: new RegExp(`^/v1/enterprises/${SEG}/devices/${SEG}$`), id: 'enterprises.devices.patch', request: 'Device', response: 'Device' },
  { http: 'DELETE', pattern: new RegExp(`^/v1/enterprises/${SEG}/devices/${SEG}$`), id: 'enterprises.devices.delete', response: 'Empty' },
  { http: 'POST', pattern: new RegExp(`^/v1/enterprises/${SEG}/devices/${SEG}:issueCommand$`), id: 'enterprises.devices.issueCommand', request: 'Command', response: 'Operation' },
  { http: 'GET', pattern: new RegExp(`^/v1/enterprises/${SEG}/devices/${SEG}/operations$`), id: 'enterprises.devices.operations.list', response: 'ListOperationsResponse' },
  { http: 'GET', pattern: new RegExp(`^/v1/enterprises/${SEG}/devices/${SEG}/operations/${SEG}$`), id: 'enterprises.devices.operations.get', response: 'Operation' },
  { http: 'POST', pattern: new RegExp(`^/v1/enterprises/${SEG}/devices/${SEG}/operations/${SEG}:cancel$`), id: 'enterprises.devices.operations.cancel', response: 'Empty' },
  { http: 'POST', pattern: new RegExp(`^/v1/enterprises/${SEG}/enrollmentTokens$`), id: 'enterprises.enrollmentTokens.create', request: 'EnrollmentToken', response: 'EnrollmentToken' },
  { http: 'GET', pattern: new RegExp(`^/v1/enterprises/${SEG}/enrollmentTokens/${SEG}$`), id: 'enterprises.enrollmentTokens.get', response: 'EnrollmentToken' },
  { http: 'DELETE', pattern: new RegExp(`^/v1/enterprises/${SEG}/enrollmentTokens/${SEG}$`), id: 'enterprises.enrollmentTokens.delete', response: 'Empty' },
];

// Short fault names of the contract → the methods they mean.
const FAULT_ALIASES: Record<string, string[]> = {
  issueCommand: ['enterprises.devices.issueCommand'],
  delete: ['enterprises.devices.delete'],
  patch: ['enterprises.devices.patch', 'enterprises.policies.patch'],
};
function faultMatches(method: string, id: string): boolean {
  const aliases = FAULT_ALIASES[method];
  if (aliases) return aliases.includes(id);
  return id === method || id.endsWith(`.${method}`);
}

// The query parameters each method documents, plus the standard ones (discovery `parameters`).
let queryParams: Map<string, Set<string>> | undefined;
function documentedParams(id: string): Set<string> | undefined {
  if (!specsAvailable()) return undefined;
  if (!queryParams) {
    queryParams = new Map();
    const doc = discovery() as unknown as { parameters: Record<string, unknown>; resources: Record<string, Resource> };
    const standard = Object.keys(doc.parameters ?? {});
    interface Resource { methods?: Record<string, { id: string; path: string; parameters?: Record<string, { location: string }> }>; resources?: Record<string, Resource> }
    const walk = (r: Record<string, Resource>): void => {
      for (const res of Object.values(r)) {
        for (const m of Object.values(res.methods ?? {})) {
          const names = Object.entries(m.parameters ?? {}).filter(([, p]) => p.location === 'query').map(([k]) => k);
          queryParams!.set(m.id.replace(/^androidmanagement\./, ''), new Set([...names, ...standard]));
        }
        if (res.resources) walk(res.resources);
      }
    };
    walk(doc.resources);
  }
  return queryParams.get(id);
}

// Fresh RSA keys per test process, shared by the fakes it starts: a 2048-bit key costs a second
// of CPU on a loaded machine, and every fake of a process stands for the same Google anyway.
let keyPairs: { serviceKey: KeyPair; pushKey: KeyPair } | undefined;
type KeyPair = { publicKey: KeyObject; privateKey: KeyObject };
function keys(): { serviceKey: KeyPair; pushKey: KeyPair } {
  keyPairs ??= { serviceKey: generateKeyPairSync('rsa', { modulusLength: 2048 }), pushKey: generateKeyPairSync('rsa', { modulusLength: 2048 }) };
  return keyPairs;
}

export async function startFakeAmapi(opts: FakeAmapiOptions = {}): Promise<FakeAmapi> {
  const now = opts.now ?? (() => new Date());
  const r: Rng = rng(opts.seed ?? 1);
  const iso = (t: Date = now()): string => t.toISOString();

  const { serviceKey, pushKey } = keys();
  const projectId = `emmctl-test-${randomId(r, 6)}`;
  const clientEmail = `emmctl@${projectId}.iam.gserviceaccount.com`;
  const privateKeyId = randomId(r, 40);
  const pushKid = randomId(r, 40);
  const pushEmail = `pubsub-push@${projectId}.iam.gserviceaccount.com`;
  const subscription = `projects/${projectId}/subscriptions/emmctl-android`;

  const enterprises = new Map<string, Record<string, unknown>>();
  const signups = new Map<string, { projectId: string; callbackUrl: string; enterpriseToken: string; used: boolean }>();
  const policies = new Map<string, Policy>();
  const devices = new Map<string, SimDevice>();
  const executedLog = new Map<string, Array<{ type: string; at: string }>>();
  const operations = new Map<string, Op>();
  const tokens = new Map<string, Token>();
  const accessTokens = new Map<string, number>();
  const requests: FakeRequest[] = [];
  const schemaErrors: string[] = [];
  const unavailableApps = new Set<string>();
  let issued = 0;
  let opSeq = 0;

  const enterprise = `enterprises/LC${randomId(r, 8, '0123456789abcdefghijklmnopqrstuvwxyz')}`;
  enterprises.set(enterprise, { name: enterprise, enterpriseDisplayName: 'emmctl test enterprise' });

  const quota = opts.quota ?? { requests: 1000, perMs: 100_000 };
  const quotaLog: number[] = [];
  const faults = { quota: 0, retryAfter: 1, lose: [] as string[], fail: [] as Array<{ method: string; status: number; rpcStatus: string }> };

  const check = (schema: string, body: unknown, where: string): string[] => {
    if (!specsAvailable()) return [];
    const problems = checkAmapi(schema, body).map((p) => `${where}: ${p.path} ${p.message}`);
    schemaErrors.push(...problems);
    return problems;
  };

  // ---- push (Cloud Pub/Sub push subscription) ----
  let pushTarget: { url: string; audience: string } | undefined;
  const pushQueue: Array<{ type: string; payload: unknown }> = [];
  const deliveries: FakeAmapi['push']['deliveries'] = [];
  let pushing: Promise<void> | undefined;
  let messageSeq = 1_000_000 + Math.floor(r() * 1_000_000);
  const publish = (type: string, payload: unknown): void => {
    if (!pushTarget) return;
    check(type === 'COMMAND' ? 'Operation' : 'Device', payload, `push ${type} data`);
    pushQueue.push({ type, payload });
    pushing ??= drain().finally(() => {
      pushing = undefined;
    });
  };
  const drain = async (): Promise<void> => {
    while (pushQueue.length > 0 && pushTarget) {
      const { type, payload } = pushQueue.shift()!;
      const target = pushTarget;
      const messageId = String(messageSeq++);
      const publishTime = iso();
      const body = JSON.stringify({
        message: { data: Buffer.from(JSON.stringify(payload)).toString('base64'), attributes: { notificationType: type }, messageId, message_id: messageId, publishTime, publish_time: publishTime },
        subscription,
      });
      let status = 0;
      let attempts = 0;
      // Pub/Sub redelivers until acknowledged (a 2xx); a bounded number here so a test ends.
      while (attempts < 5 && pushTarget) {
        attempts++;
        // The OIDC token is dated by the real clock: the endpoint's verifier checks it against its own.
        const iat = Math.floor(Date.now() / 1000);
        const jwt = signJwt({ kid: pushKid }, { iss: 'https://accounts.google.com', aud: target.audience, azp: '118234567890123456789', sub: '118234567890123456789', email: pushEmail, email_verified: true, iat, exp: iat + 3600 }, pushKey.privateKey);
        try {
          const res = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` }, body });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          status = 0;
        }
        if (status >= 200 && status < 300) break;
        await new Promise((res) => setTimeout(res, 50 * 2 ** attempts));
      }
      deliveries.push({ type, messageId, status, attempts });
    }
  };

  // ---- the simulated devices ----
  const play = catalogue(unavailableApps);
  const currentPolicy = (name: string): Policy | undefined => policies.get(name);
  const tick = (d: SimDevice): void => {
    if (!d.online) return;
    const at = iso();
    const p = currentPolicy(d.policyName);
    if (p) applyPolicy(d, d.policyName, String(p.version), p.body, play, at);
    for (const op of [...operations.values()].filter((o) => o.device === d.name && !o.done)) {
      if (!devices.has(d.name)) break;
      carryOut(d, op, at);
    }
    if (!devices.has(d.name)) return;
    d.lastStatusReportTime = at;
    publish('STATUS_REPORT', deviceResource(d));
  };
  const carryOut = (d: SimDevice, op: Op, at: string): void => {
    op.done = true;
    if (now().getTime() > op.expiresAt) {
      op.error = { code: 4, message: 'The command expired before the device carried it out.' };
    } else if (op.type === 'REBOOT' && d.managementMode !== 'DEVICE_OWNER') {
      op.error = { code: 9, message: 'REBOOT is supported on fully managed devices only.' };
      op.errorCode = 'MANAGEMENT_MODE';
    } else if (op.type === 'RELINQUISH_OWNERSHIP' && !(d.ownership === 'COMPANY_OWNED' && d.managementMode === 'PROFILE_OWNER')) {
      op.error = { code: 9, message: 'RELINQUISH_OWNERSHIP is supported on company-owned devices with a work profile only.' };
      op.errorCode = 'MANAGEMENT_MODE';
    } else {
      executedLog.get(d.name)!.push({ type: op.type, at });
      // "The device will be deleted from the server after it acknowledges the command."
      if (op.type === 'RELINQUISH_OWNERSHIP') devices.delete(d.name);
    }
    publish('COMMAND', operationResource(op));
  };
  const operationResource = (op: Op): Record<string, unknown> => {
    const metadata: Record<string, unknown> = { ...op.metadata };
    if (op.errorCode) metadata.errorCode = op.errorCode;
    const out: Record<string, unknown> = { name: op.name, metadata };
    if (op.done) {
      out.done = true;
      if (op.error) out.error = { ...op.error };
      else out.response = { '@type': EMPTY_TYPE };
    }
    return out;
  };
  const device = (name: string): SimDevice => {
    const d = devices.get(name);
    if (!d) throw new Error(`the fake has no device ${name}`);
    return d;
  };

  const enroll = async (tokenValue: string, o: EnrollOptions = {}, hardware?: Hardware): Promise<string> => {
    const token = [...tokens.values()].find((t) => t.value === tokenValue);
    if (!token) throw new Error('enrollment refused: the token is not valid (unknown or deleted)');
    if (now().getTime() >= token.expiresAt) throw new Error('enrollment refused: the token has expired');
    if (token.oneTimeOnly && token.uses > 0) throw new Error('enrollment refused: the one-time token was used already');
    const personal = token.allowPersonalUsage === 'PERSONAL_USAGE_ALLOWED' || token.allowPersonalUsage === 'ALLOW_PERSONAL_USAGE_UNSPECIFIED';
    const mode = o.mode ?? (personal ? 'wpp' : 'fm');
    if (!personal && mode !== 'fm') throw new Error(`enrollment refused: a token that disallows personal usage provisions fully managed devices only (asked for ${mode})`);
    if (personal && mode === 'fm') throw new Error('enrollment refused: a token that allows personal usage provisions a work profile (wpc or wpp)');
    const hw = hardware ?? standardHardware(now());
    if (o.androidVersion !== undefined) hw.androidVersion = o.androidVersion;
    if (o.model !== undefined) hw.model = modelByName(o.model);
    if (o.compliant === false) {
      hw.encrypted = false;
      delete hw.passcode;
    }
    const ent = token.name.slice(0, token.name.indexOf('/enrollmentTokens/'));
    let name: string;
    do name = `${ent}/devices/${randomId(r, 16)}`;
    while (devices.has(name) || executedLog.has(name));
    const at = iso();
    const d: SimDevice = {
      name,
      ownership: mode === 'wpp' ? 'PERSONALLY_OWNED' : 'COMPANY_OWNED',
      managementMode: mode === 'fm' ? 'DEVICE_OWNER' : 'PROFILE_OWNER',
      state: 'ACTIVE',
      policyName: token.policyName,
      enrollmentTokenName: token.name,
      enrollmentTime: at,
      userName: `${ent}/users/${randomId(r, 21, '0123456789')}`,
      hardware: {
        brand: hw.model.brand,
        manufacturer: hw.model.manufacturer,
        model: hw.model.model,
        hardware: hw.model.hardware,
        serialNumber: o.serial ?? randomId(r, 14, 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789'),
        enterpriseSpecificId: randomId(r, 16, 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'),
        imei: `35${randomId(r, 13, '0123456789')}`,
      },
      androidVersion: hw.androidVersion,
      patchLevel: hw.patchLevel,
      encrypted: hw.encrypted,
      compromised: hw.compromised,
      // A work profile starts empty: personal apps stay outside it, out of the EMM's sight.
      apps: new Map([[DPC.packageName, DPC], ...(mode === 'fm' ? hw.apps.map((a) => [a.packageName, a] as const) : [])]),
      removed: new Map(),
      online: true,
      nonCompliance: [],
    };
    if (hw.passcode) d.passcode = hw.passcode;
    if (token.additionalData !== undefined) d.enrollmentTokenData = token.additionalData;
    token.uses++;
    devices.set(name, d);
    executedLog.set(name, []);
    const p = currentPolicy(d.policyName);
    if (p) applyPolicy(d, d.policyName, String(p.version), p.body, play, at);
    d.lastStatusReportTime = at;
    publish('ENROLLMENT', deviceResource(d));
    return name;
  };

  const fakeDevices: FakeDevices = {
    enroll: (value, o) => enroll(value, o),
    async enrollMany(value, n) {
      const names: string[] = [];
      for (let i = 0; i < n; i++) {
        const hw = realisticHardware(r, now());
        const token = [...tokens.values()].find((t) => t.value === value);
        // A personal-usage token in a realistic mix: mostly personal phones, some company-owned with a work profile.
        const personal = token && (token.allowPersonalUsage === 'PERSONAL_USAGE_ALLOWED' || token.allowPersonalUsage === 'ALLOW_PERSONAL_USAGE_UNSPECIFIED');
        names.push(await enroll(value, personal ? { mode: r() < 0.25 ? 'wpc' : 'wpp' } : {}, hw));
      }
      return names;
    },
    report(name) {
      // A device Google no longer has (wiped, relinquished) cannot report; a name never enrolled is a test's mistake.
      if (name !== undefined && !devices.has(name) && executedLog.has(name)) return;
      if (name !== undefined) tick(device(name));
      else for (const d of [...devices.values()]) tick(d);
    },
    set(name, patch) {
      const d = device(name);
      if (patch.encrypted !== undefined) d.encrypted = patch.encrypted;
      if (patch.compromised !== undefined) d.compromised = patch.compromised;
      if (patch.androidVersion !== undefined) d.androidVersion = patch.androidVersion;
      if (patch.patchLevel !== undefined) d.patchLevel = patch.patchLevel;
      if (patch.online !== undefined) d.online = patch.online;
      if (patch.secure === false || patch.passcode === null) delete d.passcode;
      else if (patch.passcode) d.passcode = { ...patch.passcode };
      else if (patch.secure === true) d.passcode ??= { quality: 'ALPHANUMERIC', length: 10 };
      if (patch.apps) {
        const keep = new Map([[DPC.packageName, DPC]]);
        for (const pkg of patch.apps) {
          const known = d.apps.get(pkg) ?? d.removed.get(pkg);
          keep.set(pkg, known ?? { packageName: pkg, ...play(pkg) ?? { versionName: '1.0', versionCode: 1 }, source: 'user' });
          d.removed.delete(pkg);
        }
        d.apps = keep;
      }
    },
    get(name) {
      const d = devices.get(name);
      return d ? deviceResource(d) : undefined;
    },
    executed(name) {
      return (executedLog.get(name) ?? []).map((e) => ({ ...e }));
    },
    names() {
      return [...devices.keys()].sort();
    },
  };

  // ---- the HTTP side ----
  let base = '';
  const resources = (path: string): { ent: string; rest: string[] } => {
    const m = /^\/v1\/(enterprises\/[^/:]+)(.*)$/.exec(path);
    return { ent: m ? decodeURIComponent(m[1]!) : '', rest: m ? m[2]!.split('/').filter(Boolean) : [] };
  };
  // Google does not say whether an enterprise it does not know exists elsewhere: it answers 403.
  const requireEnterprise = (ent: string): void => {
    if (!enterprises.has(ent)) throw new HttpError(403, 'PERMISSION_DENIED', 'The caller does not have permission');
  };
  const page = <T>(items: T[], key: (x: T) => string, q: URLSearchParams, what: string, defaultSize: number): { items: T[]; next?: string } => {
    const sizeText = q.get('pageSize');
    let size = defaultSize;
    if (sizeText !== null) {
      if (!/^-?\d+$/.test(sizeText)) throw new HttpError(400, 'INVALID_ARGUMENT', `Invalid value at 'page_size' (TYPE_INT32), "${sizeText}"`);
      size = Number(sizeText);
      if (size < 0) throw new HttpError(400, 'INVALID_ARGUMENT', 'page_size must not be negative.');
      if (size === 0) size = defaultSize;
      size = Math.min(size, 100);
    }
    let after = '';
    const token = q.get('pageToken');
    if (token) {
      try {
        const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { list?: unknown; after?: unknown };
        if (parsed.list !== what || typeof parsed.after !== 'string') throw new Error('not ours');
        after = parsed.after;
      } catch {
        throw new HttpError(400, 'INVALID_ARGUMENT', 'Invalid page token.');
      }
    }
    const sorted = items.map((x) => [key(x), x] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).filter(([k]) => k > after);
    const out = sorted.slice(0, size);
    const result: { items: T[]; next?: string } = { items: out.map(([, x]) => x) };
    if (sorted.length > size) result.next = Buffer.from(JSON.stringify({ list: what, after: out[out.length - 1]![0] })).toString('base64url');
    return result;
  };
  const fullPolicyName = (ent: string, value: unknown, field: string): string => {
    if (typeof value !== 'string' || value === '') throw new HttpError(400, 'INVALID_ARGUMENT', `${field} is required.`);
    const name = value.includes('/') ? value : `${ent}/policies/${value}`;
    if (!/^enterprises\/[^/]+\/policies\/[^/]+$/.test(name) || !name.startsWith(`${ent}/`)) throw new HttpError(400, 'INVALID_ARGUMENT', `${field} must be ${ent}/policies/{policyId} (got ${JSON.stringify(value)}).`);
    if (!policies.has(name)) throw new HttpError(400, 'INVALID_ARGUMENT', `Policy ${name} not found.`);
    return name;
  };
  const durationSeconds = (v: unknown, field: string): number => {
    if (typeof v !== 'string' || !/^\d+(\.\d{1,9})?s$/.test(v)) throw new HttpError(400, 'INVALID_ARGUMENT', `Invalid value at '${field}' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(v)}`);
    return Number(v.slice(0, -1));
  };
  const object = (b: unknown): Record<string, unknown> => (b !== null && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : {});

  const handlers: Record<string, (path: string, q: URLSearchParams, body: unknown) => unknown> = {
    'signupUrls.create'(_p, q) {
      const project = q.get('projectId');
      const callbackUrl = q.get('callbackUrl');
      if (!project) throw new HttpError(400, 'INVALID_ARGUMENT', 'projectId is required.');
      if (!callbackUrl || !/^https?:\/\//.test(callbackUrl)) throw new HttpError(400, 'INVALID_ARGUMENT', 'callbackUrl must be an http(s) URL.');
      const id = `C${randomId(r, 16)}`;
      const enterpriseToken = `EAH${randomBytes(24).toString('base64url')}`;
      signups.set(`signupUrls/${id}`, { projectId: project, callbackUrl, enterpriseToken, used: false });
      // Google's page for the admin is https; completeSignup (or GET /signup/<id> on the fake) plays the admin's browser.
      return { name: `signupUrls/${id}`, url: `https://enterprise.google.com/signup/android/email?origin=android-api&thirdPartyToken=${id}` };
    },
    'enterprises.create'(_p, q, body) {
      const signup = signups.get(q.get('signupUrlName') ?? '');
      if (!signup || signup.used || q.get('enterpriseToken') !== signup.enterpriseToken) throw new HttpError(400, 'INVALID_ARGUMENT', 'The signup URL name or the enterprise token is invalid.');
      if (q.get('projectId') !== signup.projectId) throw new HttpError(400, 'INVALID_ARGUMENT', 'projectId does not match the signup URL.');
      signup.used = true;
      const name = `enterprises/LC${randomId(r, 8, '0123456789abcdefghijklmnopqrstuvwxyz')}`;
      const b = { ...object(body) };
      delete b.name;
      const e = { ...b, name };
      enterprises.set(name, e);
      return e;
    },
    'enterprises.get'(path) {
      const { ent } = resources(path);
      requireEnterprise(ent);
      return enterprises.get(ent);
    },
    'enterprises.policies.patch'(path, q, body) {
      const { ent } = resources(path);
      requireEnterprise(ent);
      const name = `${ent}/policies/${decodeURIComponent(path.slice(path.lastIndexOf('/') + 1))}`;
      const b = { ...object(body) };
      if (b.name !== undefined && b.name !== name) throw new HttpError(400, 'INVALID_ARGUMENT', `The policy name in the body (${String(b.name)}) is not the one in the URL (${name}).`);
      delete b.name;
      delete b.version;
      const old = policies.get(name);
      let next: Record<string, unknown> = b;
      const mask = q.get('updateMask');
      if (mask) {
        next = { ...(old?.body ?? {}) };
        for (const f of mask.split(',').map((x) => x.trim().split('.')[0]!)) {
          if (f in b) next[f] = b[f];
          else delete next[f];
        }
      }
      const p: Policy = { body: next, version: (old?.version ?? 0) + 1 };
      policies.set(name, p);
      return { name, version: String(p.version), ...p.body };
    },
    'enterprises.policies.get'(path) {
      const name = path.slice('/v1/'.length);
      const p = policies.get(name);
      if (!p) throw new HttpError(404, 'NOT_FOUND', `Policy ${name} not found.`);
      return { name, version: String(p.version), ...p.body };
    },
    'enterprises.policies.delete'(path) {
      const name = path.slice('/v1/'.length);
      if (!policies.has(name)) throw new HttpError(404, 'NOT_FOUND', `Policy ${name} not found.`);
      const users = [...devices.values()].filter((d) => d.policyName === name).length;
      if (users > 0) throw new HttpError(400, 'FAILED_PRECONDITION', `Policy ${name} is still referenced by ${users} device(s).`);
      policies.delete(name);
      return {};
    },
    'enterprises.policies.list'(path, q) {
      const { ent } = resources(path);
      requireEnterprise(ent);
      const list = page([...policies.entries()].filter(([n]) => n.startsWith(`${ent}/policies/`)), ([n]) => n, q, `policies:${ent}`, 10);
      const out: Record<string, unknown> = {};
      if (list.items.length) out.policies = list.items.map(([name, p]) => ({ name, version: String(p.version), ...p.body }));
      if (list.next) out.nextPageToken = list.next;
      return out;
    },
    'enterprises.devices.list'(path, q) {
      const { ent } = resources(path);
      requireEnterprise(ent);
      const list = page([...devices.values()].filter((d) => d.name.startsWith(`${ent}/devices/`)), (d) => d.name, q, `devices:${ent}`, 10);
      const out: Record<string, unknown> = {};
      if (list.items.length) out.devices = list.items.map(deviceResource);
      if (list.next) out.nextPageToken = list.next;
      return out;
    },
    'enterprises.devices.get'(path) {
      const d = devices.get(path.slice('/v1/'.length));
      if (!d) throw new HttpError(404, 'NOT_FOUND', 'Requested entity was not found.');
      return deviceResource(d);
    },
    'enterprises.devices.patch'(path, q, body) {
      const { ent } = resources(path);
      const d = devices.get(path.slice('/v1/'.length));
      if (!d) throw new HttpError(404, 'NOT_FOUND', 'Requested entity was not found.');
      const b = object(body);
      const mask = q.get('updateMask');
      const fields = mask ? mask.split(',').map((x) => x.trim()) : Object.keys(b).filter((k) => k !== 'name');
      for (const f of fields) if (!['policyName', 'state'].includes(f)) throw new HttpError(400, 'INVALID_ARGUMENT', `Field ${f} of a device cannot be updated (only policyName and state).`);
      const change: Partial<SimDevice> = {};
      if (fields.includes('policyName')) change.policyName = fullPolicyName(ent, b.policyName, 'policyName');
      if (fields.includes('state')) {
        if (b.state !== 'ACTIVE' && b.state !== 'DISABLED') throw new HttpError(400, 'INVALID_ARGUMENT', 'state can be set to ACTIVE or DISABLED only.');
        change.state = b.state;
      }
      Object.assign(d, change);
      return deviceResource(d);
    },
    'enterprises.devices.delete'(path, q) {
      const name = path.slice('/v1/'.length);
      const d = devices.get(name);
      if (!d) throw new HttpError(404, 'NOT_FOUND', 'Requested entity was not found.');
      const reason = q.get('wipeReasonMessage');
      if (reason !== null && [...reason].length > 200) throw new HttpError(400, 'INVALID_ARGUMENT', 'wipeReasonMessage is longer than 200 characters.');
      const flags = q.getAll('wipeDataFlags');
      devices.delete(name);
      const entry: { type: string; at: string; flags?: string[]; effect: string } = { type: 'WIPE', at: iso(), effect: d.ownership === 'COMPANY_OWNED' ? 'factory-reset' : 'work-profile-removed' };
      if (flags.length) entry.flags = flags;
      executedLog.get(name)!.push(entry);
      return {};
    },
    'enterprises.devices.issueCommand'(path, _q, body) {
      const name = path.slice('/v1/'.length, path.lastIndexOf(':'));
      const d = devices.get(name);
      if (!d) throw new HttpError(404, 'NOT_FOUND', 'Requested entity was not found.');
      const b = object(body);
      if (!['LOCK', 'REBOOT', 'RELINQUISH_OWNERSHIP'].includes(String(b.type))) throw new HttpError(400, 'INVALID_ARGUMENT', `Command type ${JSON.stringify(b.type ?? null)} is not supported (the fake carries out LOCK, REBOOT and RELINQUISH_OWNERSHIP).`);
      const duration = b.duration === undefined ? 600 : durationSeconds(b.duration, 'duration');
      const created = now();
      opSeq = Math.max(opSeq + 1, created.getTime());
      const op: Op = {
        name: `${name}/operations/${opSeq}`,
        device: name,
        type: String(b.type),
        createTime: created.toISOString(),
        expiresAt: created.getTime() + duration * 1000,
        metadata: { '@type': COMMAND_TYPE, type: b.type, createTime: created.toISOString(), duration: `${duration}s`, userName: d.userName },
        done: false,
      };
      operations.set(op.name, op);
      return operationResource(op);
    },
    'enterprises.devices.operations.list'(path, q) {
      const dev = path.slice('/v1/'.length, -'/operations'.length);
      const list = page([...operations.values()].filter((o) => o.device === dev), (o) => o.name, q, `operations:${dev}`, 100);
      const out: Record<string, unknown> = {};
      if (list.items.length) out.operations = list.items.map(operationResource);
      if (list.next) out.nextPageToken = list.next;
      return out;
    },
    'enterprises.devices.operations.get'(path) {
      const op = operations.get(path.slice('/v1/'.length));
      if (!op) throw new HttpError(404, 'NOT_FOUND', 'Requested entity was not found.');
      return operationResource(op);
    },
    'enterprises.devices.operations.cancel'(path) {
      const op = operations.get(path.slice('/v1/'.length, path.lastIndexOf(':')));
      if (!op) throw new HttpError(404, 'NOT_FOUND', 'Requested entity was not found.');
      if (!op.done) {
        op.done = true;
        op.error = { code: 1, message: 'The command was cancelled.' };
      }
      return {};
    },
    'enterprises.enrollmentTokens.create'(path, _q, body) {
      const { ent } = resources(path);
      requireEnterprise(ent);
      const b = object(body);
      const policyName = fullPolicyName(ent, b.policyName, 'policyName');
      const seconds = b.duration === undefined ? 3600 : durationSeconds(b.duration, 'duration');
      if (seconds < 60) throw new HttpError(400, 'INVALID_ARGUMENT', 'The enrollment token duration must be at least 1 minute.');
      if (typeof b.additionalData === 'string' && [...b.additionalData].length > 1024) throw new HttpError(400, 'INVALID_ARGUMENT', 'additionalData is longer than 1024 characters.');
      const value = randomId(r, 20, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
      const token: Token = {
        name: `${ent}/enrollmentTokens/${randomBytes(30).toString('base64url').replace(/[-_]/g, 'x')}`,
        value,
        policyName,
        duration: `${seconds}s`,
        expiresAt: now().getTime() + seconds * 1000,
        oneTimeOnly: b.oneTimeOnly === true,
        allowPersonalUsage: typeof b.allowPersonalUsage === 'string' ? b.allowPersonalUsage : 'ALLOW_PERSONAL_USAGE_UNSPECIFIED',
        qrCode: JSON.stringify({
          'android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME': 'com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver',
          'android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM': 'I5YvS0O5hXY46mb01BlRjq4oJJGs2kuUcHvVkAPEXlg',
          'android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION': 'https://play.google.com/managed/downloadManagingApp?identifier=setup',
          'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE': { 'com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN': value },
        }),
        uses: 0,
      };
      if (typeof b.additionalData === 'string') token.additionalData = b.additionalData;
      tokens.set(token.name, token);
      return tokenResource(token);
    },
    'enterprises.enrollmentTokens.get'(path) {
      const t = tokens.get(path.slice('/v1/'.length));
      if (!t) throw new HttpError(404, 'NOT_FOUND', 'Requested entity was not found.');
      return tokenResource(t);
    },
    'enterprises.enrollmentTokens.delete'(path) {
      const name = path.slice('/v1/'.length);
      if (!tokens.delete(name)) throw new HttpError(404, 'NOT_FOUND', 'Requested entity was not found.');
      return {};
    },
  };
  const tokenResource = (t: Token): Record<string, unknown> => {
    const out: Record<string, unknown> = {
      name: t.name,
      value: t.value,
      duration: t.duration,
      expirationTimestamp: new Date(t.expiresAt).toISOString(),
      policyName: t.policyName,
      oneTimeOnly: t.oneTimeOnly,
      allowPersonalUsage: t.allowPersonalUsage,
      qrCode: t.qrCode,
    };
    if (t.additionalData !== undefined) out.additionalData = t.additionalData;
    return out;
  };

  const tokenEndpoint = (form: URLSearchParams): { status: number; body: Record<string, unknown> } => {
    const fail = (error: string, description: string): { status: number; body: Record<string, unknown> } => ({ status: 400, body: { error, error_description: description } });
    if (form.get('grant_type') !== JWT_BEARER) return fail('unsupported_grant_type', `grant_type must be ${JWT_BEARER}`);
    const assertion = form.get('assertion');
    if (!assertion) return fail('invalid_request', 'assertion is required');
    let jwt;
    try {
      jwt = verifyJwt(assertion, serviceKey.publicKey);
    } catch (e) {
      return fail('invalid_grant', `Invalid JWT: ${(e as Error).message}`);
    }
    const { header, payload } = jwt;
    if (header.kid !== undefined && header.kid !== privateKeyId) return fail('invalid_grant', 'Invalid JWT Signature: the kid is not a key of this service account.');
    if (payload.iss !== clientEmail) return fail('invalid_grant', 'Invalid JWT: iss is not the service account.');
    if (payload.aud !== `${base}token`) return fail('invalid_grant', 'Invalid JWT: aud must be the token_uri.');
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!scopes.includes(AMAPI_SCOPE)) return fail('invalid_scope', `scope must include ${AMAPI_SCOPE}`);
    const t = Math.floor(now().getTime() / 1000);
    const { iat, exp } = payload;
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= t || iat > t + 300 || exp - iat > 3600 || exp <= iat) {
      return fail('invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
    }
    const accessToken = `ya29.${randomBytes(32).toString('base64url')}`;
    accessTokens.set(accessToken, now().getTime() + 3599_000);
    issued++;
    return { status: 200, body: { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' } };
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  };
  const rpcBody = (e: HttpError): Record<string, unknown> => ({ error: { code: e.httpStatus, message: e.message, status: e.rpcStatus, ...(e.extra.details ? { details: e.extra.details } : {}) } });

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 10 * 1024 * 1024) reject(new HttpError(413, 'INVALID_ARGUMENT', 'Request payload too large.'));
        else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const query: Record<string, string> = {};
    for (const k of new Set(url.searchParams.keys())) query[k] = url.searchParams.getAll(k).join(',');
    const text = await readBody(req);
    const entry: FakeRequest = { method, path, query, status: 0, call: '' };
    requests.push(entry);

    if (method === 'POST' && path === '/token') {
      entry.call = 'token';
      const form = new URLSearchParams(text);
      entry.body = { grant_type: form.get('grant_type') };
      const out = tokenEndpoint(form);
      entry.status = out.status;
      send(res, out.status, out.body, { 'cache-control': 'no-store' });
      return;
    }
    if (method === 'GET' && path === '/oauth2/v3/certs') {
      entry.call = 'certs';
      entry.status = 200;
      const jwk = pushKey.publicKey.export({ format: 'jwk' });
      send(res, 200, { keys: [{ ...jwk, kid: pushKid, alg: 'RS256', use: 'sig' }] }, { 'cache-control': 'public, max-age=3600' });
      return;
    }
    const signup = /^\/signup\/([A-Za-z0-9]+)$/.exec(path);
    if (method === 'GET' && signup) {
      // The admin's browser finishes Google's signup and lands on the callback with the enterprise token.
      entry.call = 'signup';
      const s = signups.get(`signupUrls/${signup[1]}`);
      if (!s) {
        entry.status = 404;
        send(res, 404, { error: 'no such signup' });
        return;
      }
      const to = new URL(s.callbackUrl);
      to.searchParams.set('enterpriseToken', s.enterpriseToken);
      entry.status = 302;
      res.writeHead(302, { location: to.toString() });
      res.end();
      return;
    }

    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const rt of ROUTES) {
      if (rt.http !== method) continue;
      match = rt.pattern.exec(path);
      if (match) {
        route = rt;
        break;
      }
    }
    try {
      if (!route || !match) throw new HttpError(404, 'NOT_FOUND', `The fake AMAPI has no ${method} ${path}.`);
      entry.call = route.id;
      let body: unknown;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          throw new HttpError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
        }
        entry.body = body;
      }
      const auth = req.headers.authorization;
      const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const expires = bearer === undefined ? undefined : accessTokens.get(bearer);
      if (expires === undefined || expires <= now().getTime()) {
        throw new HttpError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
      }
      const params = documentedParams(route.id);
      if (params) for (const k of Object.keys(query)) if (!params.has(k)) schemaErrors.push(`${route.id} query: unknown parameter "${k}"`);
      if (route.request) {
        if (body === undefined) body = {};
        const problems = check(route.request, body, `${route.id} request body`);
        if (problems.length) throw new HttpError(400, 'INVALID_ARGUMENT', `Invalid JSON payload received. ${problems.join('; ')}`);
      } else if (text !== '') schemaErrors.push(`${route.id} request: a body where the method takes none`);
      // Google's quota (1,000 queries per 100 seconds per project by default), always on, by the wall clock as Google counts it.
      const wall = Date.now();
      while (quotaLog.length > 0 && quotaLog[0]! <= wall - quota.perMs) quotaLog.shift();
      const overQuota = quotaLog.length >= quota.requests;
      if (!overQuota) quotaLog.push(wall);
      if (faults.quota > 0 || overQuota) {
        if (!overQuota) faults.quota--;
        const retryAfter = overQuota ? Math.max(1, Math.ceil((quotaLog[0]! + quota.perMs - wall) / 1000)) : faults.retryAfter;
        throw new HttpError(429, 'RESOURCE_EXHAUSTED', `Quota exceeded for quota metric 'Queries' and limit 'Queries per 100 seconds' of service 'androidmanagement.googleapis.com' for consumer 'project_number:${projectId}'.`, {
          headers: { 'retry-after': String(retryAfter) },
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'RATE_LIMIT_EXCEEDED', domain: 'googleapis.com', metadata: { service: 'androidmanagement.googleapis.com', quota_limit: 'DefaultPerMinutePerProject' } }],
        });
      }
      if (path.startsWith('/v1/enterprises/')) requireEnterprise(resources(path).ent);
      const failing = faults.fail.findIndex((f) => faultMatches(f.method, route!.id));
      if (failing >= 0) {
        const [f] = faults.fail.splice(failing, 1);
        throw new HttpError(f!.status, f!.rpcStatus, `Injected failure of ${route.id} (${f!.rpcStatus}).`);
      }
      const out = handlers[route.id]!(path, url.searchParams, body);
      check(route.response, out, `${route.id} response body`);
      const losing = faults.lose.findIndex((m) => faultMatches(m, route!.id));
      entry.status = 200;
      if (losing >= 0) {
        faults.lose.splice(losing, 1);
        entry.lost = true;
        // Carried out, and the answer never arrives: the connection drops before any byte of it.
        req.socket.destroy();
        return;
      }
      send(res, 200, out);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, 'INTERNAL', `The fake failed: ${(e as Error).message}`);
      entry.status = err.httpStatus;
      send(res, err.httpStatus, rpcBody(err), err.extra.headers);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, rpcBody(new HttpError(500, 'INTERNAL', (e as Error).message)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  const dir = mkdtempSync(join(process.env.EMMCTL_TEST_SCRATCH ?? tmpdir(), 'fake-amapi-'));
  const credentialsFile = join(dir, 'service-account.json');
  writeFileSync(credentialsFile, JSON.stringify({
    type: 'service_account',
    project_id: projectId,
    private_key_id: privateKeyId,
    private_key: serviceKey.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    client_email: clientEmail,
    client_id: randomId(r, 21, '0123456789'),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: `${base}token`,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
    universe_domain: 'googleapis.com',
  }, null, 2), { mode: 0o600 });

  return {
    url: base,
    enterprise,
    credentialsFile,
    certsUrl: `${base}oauth2/v3/certs`,
    tokenUri: `${base}token`,
    requests,
    schemaErrors,
    devices: fakeDevices,
    unavailableApps,
    faults: {
      quotaStorm(n, retryAfterSeconds = 1) {
        faults.quota = n;
        faults.retryAfter = retryAfterSeconds;
      },
      loseNextResponse(m) {
        faults.lose.push(m);
      },
      failNext(m, status, rpcStatus) {
        faults.fail.push({ method: m, status, rpcStatus });
      },
    },
    push: {
      to(url, audience) {
        pushTarget = { url, audience };
      },
      stop() {
        pushTarget = undefined;
        pushQueue.length = 0;
      },
      async flush() {
        while (pushing) await pushing;
      },
      subscription,
      email: pushEmail,
      deliveries,
    },
    completeSignup(urlOrName) {
      const id = /thirdPartyToken=([A-Za-z0-9]+)/.exec(urlOrName)?.[1] ?? /^signupUrls\/([A-Za-z0-9]+)$/.exec(urlOrName)?.[1];
      const s = id === undefined ? undefined : signups.get(`signupUrls/${id}`);
      if (!s) throw new Error(`the fake made no signup URL ${urlOrName}`);
      return s.enterpriseToken;
    },
    tokensIssued: () => issued,
    async close() {
      pushTarget = undefined;
      pushQueue.length = 0;
      await pushing;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}


