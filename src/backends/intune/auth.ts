// App-only tokens for Microsoft Graph: the OAuth 2.0 client-credentials flow through Microsoft's
// own library (@azure/msal-node, loaded only when a token is needed). MSAL is handed the
// authority's metadata up front, so it makes no discovery calls (instance discovery, OpenID
// configuration): the only request is the token POST, to the login endpoint the context names.
// Its HTTP goes through our own network module, so timeouts and --debug lines match Graph's.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import axios from 'axios';
import { BackendError, UsageError } from '../../errors.js';
import { TokenCache, type IssuedToken } from '../../token-cache.js';

export const PUBLIC_LOGIN = 'https://login.microsoftonline.com';
export const GRAPH_SCOPE_SUFFIX = '/.default';

export interface AuthOptions {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  clientCertificate?: string;
  loginEndpoint?: string;
  /** The Graph root whose `/.default` scope is requested. */
  graphEndpoint: string;
  timeoutMs: number;
  debug?: (line: string) => void;
}

export interface LoadedCertificate {
  privateKey: string;
  thumbprintSha256: string;
  x5c: string;
}

/** Reads a PEM holding a certificate and its private key; the message says which part is missing. */
export function readCertificate(path: string): LoadedCertificate {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the client certificate ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const key = text.match(/-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/);
  const cert = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
  if (!key || !cert) {
    throw new UsageError(`${path} must hold both the certificate and its private key in PEM form (missing: ${[!cert && 'certificate', !key && 'private key'].filter(Boolean).join(' and ')})`, 'concatenate them: cat cert.pem key.pem > app.pem');
  }
  if (key[0].includes('ENCRYPTED')) throw new UsageError(`the private key in ${path} is encrypted; emmctl needs it unencrypted (keep the file owner-only)`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert[0]);
  } catch (error) {
    throw new UsageError(`${path}: not a valid certificate (${(error as Error).message})`);
  }
  const der = x509.raw;
  return { privateKey: key[0], thumbprintSha256: createHash('sha256').update(der).digest('hex'), x5c: der.toString('base64') };
}

/**
 * MSAL insists on an https authority. A loopback http login endpoint (a test double, an
 * emulator) is named to MSAL as https and the network module sends to the real origin:
 * nothing leaves this machine either way.
 */
function authorityUrls(loginEndpoint: string, tenantId: string): { authority: string; realOrigin: string; nominalOrigin: string } {
  const url = new URL(loginEndpoint);
  const base = url.pathname.replace(/\/+$/, '');
  const realOrigin = `${url.protocol}//${url.host}`;
  const nominalOrigin = `https://${url.host}`;
  return { authority: `${nominalOrigin}${base}/${encodeURIComponent(tenantId)}`, realOrigin, nominalOrigin };
}

interface NetworkResponse {
  headers: Record<string, string>;
  body: unknown;
  status: number;
}

/** Acquires and caches (in memory, for this process) Graph tokens; refreshes when one expires. */
export class TokenSource {
  private readonly cache = new TokenCache(() => this.acquire(), { maxMarginMs: 60_000 });
  constructor(private readonly options: AuthOptions) {}

  /** A valid Graph token; concurrent callers share one sign-in. */
  token(): Promise<string> {
    return this.cache.token();
  }

  /** Forget the token (after a 401: it was revoked or the clock is off). */
  invalidate(): void {
    this.cache.invalidate();
  }

  private async acquire(): Promise<IssuedToken> {
    const o = this.options;
    if (!o.clientSecret && !o.clientCertificate) {
      throw new UsageError(`no credential for Intune tenant ${o.tenantId}`, 'set EMMCTL_INTUNE_CLIENT_SECRET, or re-add the context with --client-secret-stdin or --client-certificate FILE');
    }
    const login = (o.loginEndpoint ?? PUBLIC_LOGIN).replace(/\/+$/, '');
    const { authority, realOrigin, nominalOrigin } = authorityUrls(login, o.tenantId);
    const real = (url: string) => (url.startsWith(nominalOrigin) ? realOrigin + url.slice(nominalOrigin.length) : url);
    const timeoutMs = o.timeoutMs;
    const debug = o.debug;
    const send = async (method: 'GET' | 'POST', url: string, options?: { headers?: Record<string, string>; body?: string }): Promise<NetworkResponse> => {
      const target = real(url);
      const started = Date.now();
      try {
        const r = await axios.request({
          method,
          url: target,
          headers: options?.headers,
          data: options?.body,
          timeout: timeoutMs,
          validateStatus: () => true,
          responseType: 'text',
          transformResponse: [(d: unknown) => d],
          maxRedirects: 0,
        });
        debug?.(`${method} ${new URL(target).origin}${new URL(target).pathname} ${r.status} ${Date.now() - started}ms`);
        let body: unknown = {};
        try {
          body = JSON.parse(String(r.data ?? '{}'));
        } catch {
          body = {};
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers ?? {})) if (typeof v === 'string') headers[k] = v;
        return { headers, body, status: r.status };
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'ERROR';
        throw new BackendError('unavailable', `cannot reach the Entra ID login endpoint ${new URL(target).origin}: ${code}`, { hint: 'check the network, or --login-endpoint of the context' });
      }
    };
    const tenantPath = `${authority}`;
    const metadata = {
      token_endpoint: `${tenantPath}/oauth2/v2.0/token`,
      authorization_endpoint: `${tenantPath}/oauth2/v2.0/authorize`,
      issuer: `${tenantPath}/v2.0`,
      jwks_uri: `${tenantPath}/discovery/v2.0/keys`,
      end_session_endpoint: `${tenantPath}/oauth2/v2.0/logout`,
    };
    const host = new URL(authority).host;
    const discovery = {
      tenant_discovery_endpoint: `${tenantPath}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    };
    const msal = await import('@azure/msal-node');
    const certificate = o.clientCertificate ? readCertificate(o.clientCertificate) : undefined;
    const app = new msal.ConfidentialClientApplication({
      auth: {
        clientId: o.clientId,
        authority,
        knownAuthorities: [host],
        authorityMetadata: JSON.stringify(metadata),
        cloudDiscoveryMetadata: JSON.stringify(discovery),
        ...(o.clientSecret ? { clientSecret: o.clientSecret } : {}),
        ...(!o.clientSecret && certificate ? { clientCertificate: { thumbprintSha256: certificate.thumbprintSha256, privateKey: certificate.privateKey, x5c: certificate.x5c } } : {}),
      },
      system: {
        networkClient: {
          sendGetRequestAsync: (url: string, options?: { headers?: Record<string, string> }) => send('GET', url, options) as never,
          sendPostRequestAsync: (url: string, options?: { headers?: Record<string, string>; body?: string }) => send('POST', url, options) as never,
        },
        loggerOptions: { piiLoggingEnabled: false, loggerCallback: () => {} },
      },
    });
    let result;
    try {
      result = await app.acquireTokenByClientCredential({ scopes: [`${o.graphEndpoint.replace(/\/+$/, '')}${GRAPH_SCOPE_SUFFIX}`], skipCache: false });
    } catch (error) {
      if (error instanceof BackendError) throw error;
      throw loginError(error, o);
    }
    if (!result?.accessToken) throw new BackendError('unauthorized', `Entra ID gave no access token for tenant ${o.tenantId}`);
    return { token: result.accessToken, expiresAt: result.expiresOn ? result.expiresOn.getTime() : Date.now() + 300_000 };
  }
}

/** AADSTS errors name the problem in their first line; the rest (trace ids, timestamps) is noise. */
function loginError(error: unknown, o: AuthOptions): BackendError {
  const e = error as { errorCode?: string; errorMessage?: string; message?: string };
  const said = (e.errorMessage ?? e.message ?? String(error)).split(/\r?\n|Trace ID:/)[0]!.trim();
  const hint =
    /AADSTS7000215|invalid_client|secret/i.test(said)
      ? 'the client secret is wrong or expired: create a new one on the app registration and re-add the context (--client-secret-stdin) or set EMMCTL_INTUNE_CLIENT_SECRET'
      : /AADSTS700016|unauthorized_client|not found in the directory/i.test(said)
        ? `check --client-id ${o.clientId} and --tenant-id ${o.tenantId}: the app must be registered in that tenant`
        : /AADSTS90002|tenant/i.test(said)
          ? `check --tenant-id ${o.tenantId}`
          : 'see docs/intune.md for the app registration emmctl needs';
  return new BackendError('unauthorized', `Entra ID refused to issue a token for app ${o.clientId} in tenant ${o.tenantId}: ${said}`, { hint });
}
