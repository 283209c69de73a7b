// The client's address behind load balancers (`emmctl server --trusted-proxy CIDR[,CIDR]`).
//
// X-Forwarded-For is whatever the sender wrote, so it is read only when the TCP peer is one of
// the trusted proxies, and then from the right: each trusted hop appended the address it got
// the request from, so the first address from the right that is not itself a trusted proxy is
// the client. What a client wrote to the left of that is never believed: a stranger cannot pick
// the address its enrollment rate-limit bucket and audit records go under. Without the option,
// or from any other peer, the header is ignored and the peer's address is the client's.
import { BlockList, isIP } from 'node:net';
import { UsageError } from '../errors.js';

export class TrustedProxies {
  private readonly list = new BlockList();
  /** The ranges as given (normalised), for messages. */
  readonly ranges: readonly string[];

  constructor(ranges: ReadonlyArray<{ address: string; prefix: number; family: 'ipv4' | 'ipv6' }>) {
    for (const r of ranges) this.list.addSubnet(r.address, r.prefix, r.family);
    this.ranges = ranges.map((r) => `${r.address}/${r.prefix}`);
  }

  /** True when `address` (a plain IPv4 or IPv6 address) is in a trusted range. */
  trusts(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** The client's address: the peer's, or when the peer is trusted, X-Forwarded-For's first untrusted hop from the right. */
  clientAddress(peer: string, forwardedFor: string | string[] | undefined): string {
    if (forwardedFor === undefined || !this.trusts(peer)) return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((h) => h.trim());
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plainAddress(hops[i]!);
      // Garbage where an address should be: the last hop that is known stays the answer.
      if (hop === undefined) break;
      client = hop;
      if (!this.trusts(hop)) break;
    }
    return client;
  }
}

/** An IP address as a hop may write it (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::ffff:1.2.3.4`), plain; undefined if it is none. */
function plainAddress(text: string): string | undefined {
  let t = text;
  const bracket = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(t);
  if (bracket) t = bracket[1]!;
  else if (/^[\d.]+:\d{1,5}$/.test(t)) t = t.slice(0, t.lastIndexOf(':'));
  if (isIP(t) === 0) return undefined;
  return normalise(t);
}

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`, how a dual-stack socket reports an IPv4 peer) as IPv4. */
export function normalise(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Parses `--trusted-proxy` / EMMCTL_TRUSTED_PROXY: CIDRs or single addresses, comma-separated. */
export function parseTrustedProxies(text: string, what = '--trusted-proxy'): TrustedProxies {
  const ranges: Array<{ address: string; prefix: number; family: 'ipv4' | 'ipv6' }> = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const slash = item.indexOf('/');
    const address = normalise(slash < 0 ? item : item.slice(0, slash));
    const family = isIP(address);
    if (family === 0) throw new UsageError(`invalid ${what} "${item}": expected an IP address or CIDR range such as 10.0.0.0/8 or fd00::/8`);
    const max = family === 4 ? 32 : 128;
    const prefixText = slash < 0 ? String(max) : item.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= 0 && prefix <= max)) throw new UsageError(`invalid ${what} "${item}": the prefix length must be 0–${max} for an IPv${family} range`);
    ranges.push({ address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' });
  }
  if (!ranges.length) throw new UsageError(`${what} needs at least one IP address or CIDR range`);
  return new TrustedProxies(ranges);
}
