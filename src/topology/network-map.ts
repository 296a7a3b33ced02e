// Network maps: which PID (provider-defined network location, RFC 7285 section 5.1) an address is in.
// Two forms: an ALTO network map (application/alto-networkmap+json, RFC 7285 section 11.2.1) and, as the
// simple alternative, an Apache Traffic Control coverage zone file (coverageZones: name -> network,
// network6), whose cache-group names serve as PIDs. Anything malformed is refused whole, naming the key,
// PID or prefix: a half-read map would send peers to the wrong places.
import { TopologyMapError } from '../errors/index.ts';
import { parseAddress, parsePrefix } from './address.ts';
import { PrefixTrie } from './prefix-trie.ts';

export type NetworkMapFormat = 'alto' | 'coverage-zones';

export interface NetworkMap {
  format: NetworkMapFormat;
  /** RFC 7285 version tag (resource-id and tag), or the coverage zone file's revision as the tag. */
  vtag: { resourceId: string; tag: string } | null;
  pids: readonly string[];
  prefixCount: number;
  /** The PID of the longest prefix holding the address, or null (not in the map, or not an address). */
  pidOf(ip: string): string | null;
  /** The same for a compact address (BEP 23/7: 4 or 16 address bytes then 2 port bytes, one character per byte). */
  pidOfCompact(compact: string): string | null;
}

/** RFC 7285 section 10.1: PID names are up to 64 characters of letters, digits, '-', ':', '@', '_' and '.'. */
const PID_NAME = /^[A-Za-z0-9\-:@_.]{1,64}$/;

/** A network map from a JSON document: an ALTO network map or a coverage zone file. */
export function parseNetworkMap(text: string, origin: string): NetworkMap {
  const document = parseJson(text, origin);
  if (isObject(document) && 'network-map' in document) return parseAltoNetworkMap(document, origin);
  if (isObject(document) && 'coverageZones' in document) return parseCoverageZones(document, origin);
  throw new TopologyMapError(
    `${origin}: neither an ALTO network map (no "network-map" key) nor a coverage zone file (no "coverageZones" key)`,
    { subject: origin },
  );
}

export function parseAltoNetworkMap(document: Record<string, unknown>, origin: string): NetworkMap {
  const fail = (message: string): never => {
    throw new TopologyMapError(`${origin}: ${message}`, { subject: origin });
  };
  const meta = document.meta;
  if (meta !== undefined && !isObject(meta)) fail('"meta" must be an object');
  const vtag = isObject(meta) ? meta.vtag : undefined;
  let tag: NetworkMap['vtag'] = null;
  if (vtag !== undefined) {
    if (!isObject(vtag) || typeof vtag['resource-id'] !== 'string' || typeof vtag.tag !== 'string') {
      fail('"meta.vtag" must have string "resource-id" and "tag"');
    } else {
      tag = { resourceId: vtag['resource-id'] as string, tag: vtag.tag as string };
    }
  }
  const networkMap = document['network-map'];
  if (!isObject(networkMap)) return fail('"network-map" must be an object of PIDs');
  const builder = new MapBuilder(origin);
  for (const [pid, entry] of Object.entries(networkMap)) {
    if (!PID_NAME.test(pid)) fail(`PID "${pid}" is not a valid PID name (1-64 of A-Z a-z 0-9 - : @ _ .)`);
    if (!isObject(entry)) fail(`"network-map"."${pid}" must be an object with "ipv4" and/or "ipv6" lists`);
    const record = entry as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (key !== 'ipv4' && key !== 'ipv6') fail(`"network-map"."${pid}"."${key}": unknown address type`);
    }
    builder.addPrefixes(pid, record.ipv4, 4, `"network-map"."${pid}"."ipv4"`);
    builder.addPrefixes(pid, record.ipv6, 6, `"network-map"."${pid}"."ipv6"`);
  }
  return builder.build('alto', tag);
}

export function parseCoverageZones(document: Record<string, unknown>, origin: string): NetworkMap {
  const zones = document.coverageZones;
  if (!isObject(zones)) {
    throw new TopologyMapError(`${origin}: "coverageZones" must be an object of cache groups`, { subject: origin });
  }
  const builder = new MapBuilder(origin);
  for (const [name, zone] of Object.entries(zones)) {
    if (!PID_NAME.test(name)) {
      throw new TopologyMapError(`${origin}: coverage zone "${name}" is not usable as a PID name`, { subject: origin });
    }
    if (!isObject(zone)) {
      throw new TopologyMapError(`${origin}: "coverageZones"."${name}" must be an object with "network" lists`, {
        subject: origin,
      });
    }
    builder.addPrefixes(name, zone.network, 4, `"coverageZones"."${name}"."network"`);
    builder.addPrefixes(name, zone.network6, 6, `"coverageZones"."${name}"."network6"`);
  }
  const revision = document.revision;
  return builder.build('coverage-zones', typeof revision === 'string' ? { resourceId: 'czf', tag: revision } : null);
}

class MapBuilder {
  readonly #v4 = new PrefixTrie<string>(32);
  readonly #v6 = new PrefixTrie<string>(128);
  readonly #pids = new Set<string>();
  /** Prefix (normalised text) -> PID: RFC 7285 gives every prefix to one PID only. */
  readonly #owners = new Map<string, string>();
  readonly #origin: string;

  constructor(origin: string) {
    this.#origin = origin;
  }

  addPrefixes(pid: string, list: unknown, family: 4 | 6, where: string): void {
    this.#pids.add(pid);
    if (list === undefined) return;
    if (!Array.isArray(list)) this.#fail(`${where} must be a list of prefixes`);
    for (const [index, item] of (list as unknown[]).entries()) {
      const prefix = typeof item === 'string' ? parsePrefix(item) : null;
      if (prefix === null) this.#fail(`${where}[${index}]: ${JSON.stringify(item)} is not an address prefix`);
      else {
        if (prefix.family !== family && !(family === 6 && prefix.family === 4)) {
          this.#fail(`${where}[${index}]: ${item} is not an IPv${family} prefix`);
        }
        const key = `${prefix.family}:${masked(prefix.bytes, prefix.length).join('.')}/${prefix.length}`;
        const owner = this.#owners.get(key);
        if (owner !== undefined && owner !== pid)
          this.#fail(`${where}[${index}]: ${item} is already in PID "${owner}"`);
        this.#owners.set(key, pid);
        (prefix.family === 4 ? this.#v4 : this.#v6).insert(prefix.bytes, prefix.length, pid);
      }
    }
  }

  build(format: NetworkMapFormat, vtag: NetworkMap['vtag']): NetworkMap {
    if (this.#pids.size === 0) this.#fail('the map has no PIDs');
    const v4 = this.#v4;
    const v6 = this.#v6;
    return {
      format,
      vtag,
      pids: [...this.#pids],
      prefixCount: this.#owners.size,
      pidOf(ip) {
        const address = parseAddress(ip);
        if (address === null) return null;
        return (address.family === 4 ? v4 : v6).lookup(address.bytes) ?? null;
      },
      pidOfCompact(compact) {
        if (compact.length === 6) return v4.lookupLatin1(compact) ?? null;
        if (compact.length !== 18) return null;
        if (isMappedLatin1(compact)) return v4.lookupLatin1(compact, 12) ?? null;
        return v6.lookupLatin1(compact) ?? null;
      },
    };
  }

  #fail(message: string): never {
    throw new TopologyMapError(`${this.#origin}: ${message}`, { subject: this.#origin });
  }
}

function isMappedLatin1(compact: string): boolean {
  for (let i = 0; i < 10; i++) if (compact.charCodeAt(i) !== 0) return false;
  return compact.charCodeAt(10) === 0xff && compact.charCodeAt(11) === 0xff;
}

/** The prefix's bytes with the bits past its length cleared: 10.1.2.3/8 and 10.0.0.0/8 are one prefix. */
function masked(bytes: Uint8Array, length: number): number[] {
  return Array.from(bytes, (byte, i) => {
    const keep = Math.max(0, Math.min(8, length - i * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
}

export function parseJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TopologyMapError(`${origin}: not JSON: ${(err as Error).message}`, { subject: origin, cause: err });
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
