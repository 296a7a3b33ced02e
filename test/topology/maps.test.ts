import { describe, expect, it } from 'vitest';
import { TopologyMapError } from '../../src/errors/index.ts';
import { parseAddress, parseCostMap, parseNetworkMap, parsePrefix } from '../../src/topology/index.ts';

const networkMap = (map: unknown, tag = 'v1') =>
  JSON.stringify({ meta: { vtag: { 'resource-id': 'net', tag } }, 'network-map': map });

const costMap = (map: unknown, mode = 'numerical') =>
  JSON.stringify({
    meta: {
      'dependent-vtags': [{ 'resource-id': 'net', tag: 'v1' }],
      'cost-type': { 'cost-mode': mode, 'cost-metric': 'routingcost' },
    },
    'cost-map': map,
  });

/** The refusal's message, which must name what was wrong. */
function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyMapError);
    expect((err as TopologyMapError).code).toBe('EDGEPEER_TOPOLOGY_MAP_INVALID');
    return (err as Error).message;
  }
  throw new Error('not refused');
}

describe('addresses and prefixes', () => {
  it('parses IPv4, IPv6 and IPv4-mapped IPv6', () => {
    expect(parseAddress('10.1.2.3')).toEqual({ family: 4, bytes: Uint8Array.of(10, 1, 2, 3) });
    expect(parseAddress('::ffff:10.1.2.3')?.family).toBe(4);
    expect(Array.from(parseAddress('::ffff:10.1.2.3')!.bytes)).toEqual([10, 1, 2, 3]);
    expect(Array.from(parseAddress('2001:db8::1')!.bytes)).toEqual([0x20, 1, 0xd, 0xb8, ...Array(11).fill(0), 1]);
    expect(parseAddress('fe80::1%eth0')?.family).toBe(6);
    for (const bad of ['10.1.2', '10.1.2.256', '010.1.2.3', '1::2::3', 'host.example', '1:2:3:4:5:6:7:8:9', ''])
      expect(parseAddress(bad), bad).toBeNull();
  });

  it('parses prefixes with and without a length', () => {
    expect(parsePrefix('192.0.2.0/24')).toMatchObject({ family: 4, length: 24 });
    expect(parsePrefix('192.0.2.7')).toMatchObject({ family: 4, length: 32 });
    expect(parsePrefix('2001:db8::/32')).toMatchObject({ family: 6, length: 32 });
    expect(parsePrefix('::ffff:10.0.0.0/104')).toMatchObject({ family: 4, length: 8 });
    expect(parsePrefix('10.0.0.0/33')).toBeNull();
    expect(parsePrefix('10.0.0.0/x')).toBeNull();
  });
});

describe('network maps', () => {
  const map = parseNetworkMap(
    networkMap({
      default: { ipv4: ['0.0.0.0/0'], ipv6: ['::/0'] },
      'pid-a': { ipv4: ['10.0.0.0/8', '192.0.2.0/24'], ipv6: ['2001:db8:a::/48'] },
      'pid-b': { ipv4: ['10.2.0.0/16', '10.2.3.4/32'] },
      'pid-c': { ipv4: ['10.2.3.0/24'], ipv6: ['2001:db8:a:1::/64'] },
    }),
    'net.json',
  );

  it('finds the PID of the longest prefix, IPv4 and IPv6', () => {
    expect(map.vtag).toEqual({ resourceId: 'net', tag: 'v1' });
    expect(map.pids).toEqual(['default', 'pid-a', 'pid-b', 'pid-c']);
    expect(map.pidOf('10.9.9.9')).toBe('pid-a');
    expect(map.pidOf('10.2.9.9')).toBe('pid-b');
    expect(map.pidOf('10.2.3.9')).toBe('pid-c');
    expect(map.pidOf('10.2.3.4')).toBe('pid-b');
    expect(map.pidOf('::ffff:10.2.3.9')).toBe('pid-c');
    expect(map.pidOf('8.8.8.8')).toBe('default');
    expect(map.pidOf('2001:db8:a:2::1')).toBe('pid-a');
    expect(map.pidOf('2001:db8:a:1::1')).toBe('pid-c');
    expect(map.pidOf('2001:db9::1')).toBe('default');
    expect(map.pidOf('not an address')).toBeNull();
  });

  it('finds the PID of a compact address (the tracker form)', () => {
    const compact4 = String.fromCharCode(10, 2, 3, 9, 0x1a, 0xe1);
    expect(map.pidOfCompact(compact4)).toBe('pid-c');
    const v6 = parseAddress('2001:db8:a:1::5')!.bytes;
    expect(map.pidOfCompact(String.fromCharCode(...v6, 0, 80))).toBe('pid-c');
    const mapped = parseAddress('::ffff:1.2.3.4');
    expect(mapped?.family).toBe(4);
    const mapped16 = [...Array(10).fill(0), 0xff, 0xff, 10, 9, 9, 9, 0, 80];
    expect(map.pidOfCompact(String.fromCharCode(...mapped16))).toBe('pid-a');
  });

  it('has no PID for addresses outside every prefix', () => {
    const small = parseNetworkMap(networkMap({ a: { ipv4: ['127.0.1.0/24'] } }), 'm');
    expect(small.pidOf('127.0.2.1')).toBeNull();
    expect(small.pidOf('::1')).toBeNull();
  });

  it('reads a coverage zone file (Apache Traffic Control) as PIDs', () => {
    const czf = parseNetworkMap(
      JSON.stringify({
        revision: 'Mon Dec 21 15:04:01 2015',
        customerName: 'Kabletown',
        coverageZones: {
          'cache-group-01': { network: ['192.168.8.0/24'], network6: ['1234:5678::/64'] },
          'cache-group-02': { network: ['192.168.9.0/24'], coordinates: { latitude: 1, longitude: 2 } },
        },
      }),
      'czf.json',
    );
    expect(czf.format).toBe('coverage-zones');
    expect(czf.pidOf('192.168.9.3')).toBe('cache-group-02');
    expect(czf.pidOf('1234:5678::9')).toBe('cache-group-01');
  });

  it('refuses a malformed map naming the PID, key or prefix', () => {
    expect(refusal(() => parseNetworkMap('{', 'm.json'))).toMatch(/m\.json: not JSON/);
    expect(refusal(() => parseNetworkMap('{"x":1}', 'm.json'))).toMatch(/network-map/);
    expect(refusal(() => parseNetworkMap(networkMap({ a: { ipv4: ['10.0.0.0/8', '10.300.0.0/16'] } }), 'm'))).toContain(
      '"network-map"."a"."ipv4"[1]: "10.300.0.0/16" is not an address prefix',
    );
    expect(refusal(() => parseNetworkMap(networkMap({ a: { ipv4: ['2001:db8::/32'] } }), 'm'))).toContain(
      '"a"."ipv4"[0]: 2001:db8::/32 is not an IPv4 prefix',
    );
    expect(refusal(() => parseNetworkMap(networkMap({ a: { ipv5: [] } }), 'm'))).toContain(
      '"a"."ipv5": unknown address type',
    );
    expect(refusal(() => parseNetworkMap(networkMap({ 'bad pid': { ipv4: [] } }), 'm'))).toContain('PID "bad pid"');
    expect(
      refusal(() => parseNetworkMap(networkMap({ a: { ipv4: ['10.0.0.0/8'] }, b: { ipv4: ['10.1.0.0/8'] } }), 'm')),
    ).toContain('10.1.0.0/8 is already in PID "a"');
    expect(refusal(() => parseNetworkMap(networkMap({ a: { ipv4: '10.0.0.0/8' } }), 'm'))).toContain(
      '"a"."ipv4" must be a list',
    );
    expect(refusal(() => parseNetworkMap(JSON.stringify({ coverageZones: { z: { network: ['x'] } } }), 'c'))).toContain(
      '"coverageZones"."z"."network"[0]',
    );
  });
});

describe('cost maps', () => {
  it('reads numerical and ordinal routing costs', () => {
    const cost = parseCostMap(costMap({ a: { a: 1, b: 5.5 }, b: { a: 5.5, b: 1 } }), 'cost.json');
    expect(cost.mode).toBe('numerical');
    expect(cost.dependsOn).toEqual({ resourceId: 'net', tag: 'v1' });
    expect(cost.costs.get('a')?.get('b')).toBe(5.5);
    expect(cost.entryCount).toBe(4);
    expect(parseCostMap(costMap({ a: { a: 1, b: 2 } }, 'ordinal'), 'c').mode).toBe('ordinal');
  });

  it('refuses a malformed cost map naming the key', () => {
    expect(refusal(() => parseCostMap(costMap({ a: { b: -1 } }), 'c.json'))).toContain(
      'c.json: "cost-map"."a"."b": -1 is not a non-negative number',
    );
    expect(refusal(() => parseCostMap(costMap({ a: { b: 1.5 } }, 'ordinal'), 'c'))).toContain(
      '"cost-map"."a"."b": 1.5 is not a non-negative integer rank',
    );
    expect(refusal(() => parseCostMap(costMap({ a: { b: '1' } }), 'c'))).toContain('"cost-map"."a"."b"');
    expect(refusal(() => parseCostMap(costMap({ a: 3 }), 'c'))).toContain('"cost-map"."a" must be an object');
    expect(refusal(() => parseCostMap(costMap({}, 'fastest'), 'c'))).toContain('"cost-mode"');
    const hopcount = JSON.stringify({
      meta: { 'cost-type': { 'cost-mode': 'numerical', 'cost-metric': 'hopcount' } },
      'cost-map': {},
    });
    expect(refusal(() => parseCostMap(hopcount, 'c'))).toContain('"cost-metric" must be "routingcost"');
    expect(refusal(() => parseCostMap('{"cost-map":{}}', 'c'))).toContain('"meta" is missing');
  });
});
