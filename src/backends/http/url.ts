// Server URLs as users type them (EMMCTL_SERVER, --server): checked once, normalised, shown without credentials.
import { UsageError } from '../../errors.js';

/** http(s)://host[:port][/prefix] without a trailing slash; anything else is a usage error. */
export function normalizeServerUrl(server: string): string {
  let url: URL;
  try {
    url = new URL(server.trim());
  } catch {
    throw new UsageError(`"${server}" is not a server URL`, 'use a URL like http://127.0.0.1:8787 (EMMCTL_SERVER or --server)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`"${server}" is not an http(s) URL`, 'use a URL like http://127.0.0.1:8787 or https://emm.example.com');
  }
  if (url.search || url.hash) throw new UsageError(`server URL "${displayUrl(url.href)}" must not have a query or fragment`);
  return url.href.replace(/\/+$/, '');
}

/** The URL without user:password, for messages. */
export function displayUrl(href: string): string {
  const url = new URL(href);
  url.username = '';
  url.password = '';
  return url.href.replace(/\/+$/, '');
}
