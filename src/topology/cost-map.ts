// Cost maps (application/alto-costmap+json, RFC 7285 section 11.2.3): the routing cost from each source PID
// to each destination PID, numerical (a figure) or ordinal (a rank); lower is preferred either way, which
// is all choosing peers and edges needs.
import { TopologyMapError } from '../errors/index.ts';
import { isObject, parseJson } from './network-map.ts';

export interface CostMap {
  mode: 'numerical' | 'ordinal';
  metric: 'routingcost';
  /** The network map version this cost map was made for (meta.dependent-vtags[0]), if it says. */
  dependsOn: { resourceId: string; tag: string } | null;
  /** Source PID -> destination PID -> cost. */
  costs: ReadonlyMap<string, ReadonlyMap<string, number>>;
  entryCount: number;
}

export function parseCostMap(text: string, origin: string): CostMap {
  const fail = (message: string): never => {
    throw new TopologyMapError(`${origin}: ${message}`, { subject: origin });
  };
  const document = parseJson(text, origin);
  if (!isObject(document)) return fail('a cost map must be a JSON object');
  const meta = document.meta;
  if (!isObject(meta)) return fail('"meta" is missing (it holds "cost-type")');
  const costType = meta['cost-type'];
  if (!isObject(costType)) return fail('"meta"."cost-type" is missing');
  const mode = costType['cost-mode'];
  if (mode !== 'numerical' && mode !== 'ordinal') {
    fail(`"meta"."cost-type"."cost-mode" must be "numerical" or "ordinal", got ${JSON.stringify(mode)}`);
  }
  const metric = costType['cost-metric'];
  if (metric !== 'routingcost')
    fail(`"meta"."cost-type"."cost-metric" must be "routingcost", got ${JSON.stringify(metric)}`);
  let dependsOn: CostMap['dependsOn'] = null;
  const dependent = meta['dependent-vtags'];
  if (dependent !== undefined) {
    const first = Array.isArray(dependent) ? dependent[0] : undefined;
    if (!isObject(first) || typeof first['resource-id'] !== 'string' || typeof first.tag !== 'string') {
      fail('"meta"."dependent-vtags" must be a list of {"resource-id", "tag"}');
    } else {
      dependsOn = { resourceId: first['resource-id'] as string, tag: first.tag as string };
    }
  }
  const costMap = document['cost-map'];
  if (!isObject(costMap)) return fail('"cost-map" must be an object of source PIDs');
  const costs = new Map<string, Map<string, number>>();
  let entryCount = 0;
  for (const [source, row] of Object.entries(costMap)) {
    if (!isObject(row)) fail(`"cost-map"."${source}" must be an object of destination PIDs`);
    const targets = new Map<string, number>();
    for (const [destination, cost] of Object.entries(row as Record<string, unknown>)) {
      const valid =
        typeof cost === 'number' &&
        Number.isFinite(cost) &&
        cost >= 0 &&
        (mode === 'numerical' || Number.isInteger(cost));
      if (!valid) {
        fail(
          `"cost-map"."${source}"."${destination}": ${JSON.stringify(cost)} is not a ${mode === 'ordinal' ? 'non-negative integer rank' : 'non-negative number'}`,
        );
      }
      targets.set(destination, cost as number);
      entryCount++;
    }
    costs.set(source, targets);
  }
  return { mode: mode as CostMap['mode'], metric: 'routingcost', dependsOn, costs, entryCount };
}
