// Network topology (ALTO, RFC 7285): address -> PID by longest-prefix match, PID -> PID costs, maps read
// from files or an ALTO server and reloaded without restart. docs/topology.md.
export { type AddressBits, parseAddress, parsePrefix } from './address.ts';
export { type CostMap, parseCostMap } from './cost-map.ts';
export { type NetworkMap, type NetworkMapFormat, parseNetworkMap } from './network-map.ts';
export { PrefixTrie } from './prefix-trie.ts';
export { MEDIA_TYPES } from './source.ts';
export {
  type MapStatus,
  PidTraffic,
  type ReloadOutcome,
  Topology,
  type TopologyOptions,
  type TopologyStatus,
  UNKNOWN_COST,
} from './topology.ts';
