// The controller's HTTP answer to a request whose bytes its edges hold: a 302 to one serving edge that
// holds every byte asked for, chosen by rendezvous on the object and first piece (cache affinity) and by
// load. Null when no single edge holds the range: the controller then serves it itself from several,
// verified (src/controller/edge-source.ts).
import type { Forwarder } from '../http/index.ts';
import { bestEdge } from './choice.ts';
import type { FleetCatalog } from './fleet-catalog.ts';
import type { EdgeNearness } from './nearness.ts';

/** With `nearness` (ALTO maps), the edges nearest to the client are chosen among first. */
export function edgeForwarder(catalog: FleetCatalog, nearness?: EdgeNearness): Forwarder {
  return ({ object, target, firstPiece, lastPiece, clientAddress, bytes }) => {
    const now = Date.now();
    const holders = catalog
      .holdersOfSpan(object.infoHash, firstPiece, lastPiece)
      .filter((edge) => catalog.serving(edge, now));
    const clientPid =
      nearness === undefined || clientAddress === undefined ? null : nearness.topology.pidOf(clientAddress);
    const edge = bestEdge(holders, `${object.infoHash}:${firstPiece}`, nearness?.costFrom(clientPid));
    const baseUrl = edge?.liveness?.address.httpBaseUrl;
    if (edge === undefined || baseUrl === undefined) return null;
    nearness?.redirected.add(clientPid, nearness.edgePid(edge), bytes ?? 0);
    return { location: baseUrl.replace(/\/+$/, '') + target, holder: `edge ${edge.record.name} (${edge.record.id})` };
  };
}
