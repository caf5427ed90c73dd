/**
 * The private-network guard (events contract §4): a webhook may not reach a
 * private, loopback, link-local or otherwise non-public address unless
 * WEBHOOK_ALLOW_PRIVATE_NETWORKS is on. It is checked on the address a
 * delivery actually connects to (the name is resolved and checked inside the
 * connection's own lookup), so a public name that resolves, or later
 * re-resolves, to a private address is refused too.
 */
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/** A name lookup in the shape `net.connect` takes (tests give their own resolver). */
export type Lookup = (
  hostname: string,
  options: dns.LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
) => void;

/**
 * A target that is not public. The message is the tenant's to read (the endpoint's validation
 * error, its attempt log): a name is named, never the internal address it resolved to, so that
 * registering names cannot map the private network; an address the tenant wrote is named as written.
 */
export class PrivateAddressError extends Error {
  override name = 'PrivateAddressError';
  constructor(
    readonly address: string,
    /** The name that resolved to `address`, when the URL held a name. */
    readonly hostname?: string,
  ) {
    super(`refused: ${PrivateAddressError.what(address, hostname)} (WEBHOOK_ALLOW_PRIVATE_NETWORKS is off)`);
  }

  /** `10.0.0.1 is private, loopback, link-local or reserved`, or `hooks.example.com resolves to such an address`. */
  static what(address: string, hostname?: string): string {
    const kind = 'private, loopback, link-local or reserved';
    return hostname === undefined ? `${address} is ${kind}` : `${hostname} resolves to a ${kind} address`;
  }
}

/** IPv4-compatible IPv6 addresses, `::a.b.c.d`. */
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/** True for anything but a public unicast address: private, loopback, link-local, CGNAT, multicast, reserved… */
export function isPrivateAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it is.
  const parsed = ipaddr.process(address);
  // IPv4-compatible IPv6 (::a.b.c.d, deprecated by RFC 4291), which ipaddr.js calls
  // unicast: a host with automatic tunnels sends it to the IPv4 address it holds.
  if (parsed.kind() === 'ipv6' && parsed.match(IPV4_COMPATIBLE)) return true;
  return parsed.range() !== 'unicast';
}

/** Wraps a lookup so that it fails with PrivateAddressError when any resolved address is not public. */
export function guardedLookup(lookup: Lookup = dns.lookup): Lookup {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as dns.LookupAddress[];
      const refused = list.find((entry) => isPrivateAddress(entry.address));
      if (refused) return callback(Object.assign(new PrivateAddressError(refused.address, hostname), { code: 'EPRIVATE' }), '', 0);
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/** The host of a URL when it is an IP literal (brackets removed), else undefined. */
export function literalAddress(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return net.isIP(host) ? host : undefined;
}

/** Resolves the URL's host (or takes its literal) and throws PrivateAddressError when it is not public. */
export async function assertPublicTarget(url: URL, lookup: Lookup = dns.lookup): Promise<void> {
  const literal = literalAddress(url);
  if (literal !== undefined) {
    if (isPrivateAddress(literal)) throw new PrivateAddressError(literal);
    return;
  }
  await new Promise<void>((resolve, reject) => {
    guardedLookup(lookup)(url.hostname, { all: true }, (error) => (error ? reject(error) : resolve()));
  });
}
