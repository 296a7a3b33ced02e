// Which CDN URLs (`ep_url`) an announcer may claim. By default only URLs at its own address: otherwise any
// client could make the tracker hand leechers a web seed of its choosing. A CDN whose edges announce
// names (https://edge1.cdn.example) or whose controller announces for its edges lists those hosts or
// networks in the allow-list (`edgepeer tracker --cdn-allow`).
import { BlockList, isIP } from 'node:net';
import { InvalidArgumentError } from '../../errors/index.ts';
import { normalizeIp } from '../protocol/compact.ts';

export interface CdnAllowList {
  /** Lower-case host names. */
  readonly hosts: ReadonlySet<string>;
  /** Addresses and networks. */
  readonly networks: BlockList;
}

export const NO_CDN_ALLOW: CdnAllowList = { hosts: new Set(), networks: new BlockList() };

/**
 * Entries are host names (`edge1.cdn.example`), addresses (`192.0.2.7`, `2001:db8::7`) or networks in CIDR
 * form (`192.0.2.0/24`, `2001:db8::/32`). Throws InvalidArgumentError naming a malformed entry.
 */
export function parseCdnAllow(entries: readonly string[]): CdnAllowList {
  const hosts = new Set<string>();
  const networks = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const slash = entry.indexOf('/');
    if (slash >= 0) {
      const address = entry.slice(0, slash);
      const prefixText = entry.slice(slash + 1);
      const family = isIP(address);
      const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
      if (family === 0 || !(prefix >= 0 && prefix <= (family === 4 ? 32 : 128))) {
        throw new InvalidArgumentError(
          `CDN allow-list entry "${raw}" is not a network in CIDR form (e.g. 192.0.2.0/24)`,
        );
      }
      networks.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
    } else if (isIP(entry) !== 0) {
      networks.addAddress(entry, isIP(entry) === 4 ? 'ipv4' : 'ipv6');
    } else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(entry)) {
      hosts.add(entry.toLowerCase());
    } else {
      throw new InvalidArgumentError(`CDN allow-list entry "${raw}" is not a host name, an address or a CIDR network`);
    }
  }
  return { hosts, networks };
}

/** True when `url` (already checked as an http(s) base URL) may be listed for a peer at `announcerIp`. */
export function cdnUrlAllowed(url: string, announcerIp: string, allow: CdnAllowList): boolean {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const family = isIP(host);
  if (family === 0) return allow.hosts.has(host);
  const address = normalizeIp(host);
  if (address === normalizeIp(announcerIp)) return true;
  return allow.networks.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
}
