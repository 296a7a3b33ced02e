// The tracker's use of the topology (docs/topology.md): peers ordered by cost from the asker's PID (chosen
// in the swarm store's shared peer selection, so memory and Redis answer alike), CDN URLs of the nearest
// edges first, and counts of what was listed within and across PIDs.
import { PidTraffic, type Topology } from '../../topology/index.ts';
import type { PeerLocality } from './peer-selection.ts';
import type { AnnounceOutcome, ListedPeer, PeerAnnounce } from './swarm-store.ts';

/** RFC 6821's concern: the share of each peer list drawn at random whatever the cost. */
export const DEFAULT_RANDOM_SHARE = 0.2;

export class TrackerLocality {
  readonly topology: Topology;
  readonly randomShare: number;
  /** Peers listed in answers: the asker's PID and the peer's. */
  readonly peersListed = new PidTraffic();
  /** CDN URLs (url-list and piece URLs) listed: the asker's PID and the edge's. */
  readonly urlsListed = new PidTraffic();

  constructor(topology: Topology, randomShare: number) {
    this.topology = topology;
    this.randomShare = randomShare;
  }

  /**
   * What peer selection needs for this asker: costs by PID number (an array read per candidate), and the
   * numbering the swarm store keeps in its records, so that a candidate's PID is looked up once per map.
   */
  forAsker(announce: PeerAnnounce): { askerPid: string | null; locality: PeerLocality } {
    const topology = this.topology;
    const askerPid = topology.pidOf(announce.ip);
    const row = topology.costRow(askerPid);
    const outside = row.length - 1;
    const numberOf = (compact: string) => topology.pidNumberOfCompact(compact);
    return {
      askerPid,
      locality: {
        cost: (peer: ListedPeer) => {
          const pid = peer.pidNumber ?? numberOf(peer.compact);
          return row[pid < 0 ? outside : pid]!;
        },
        randomShare: this.randomShare,
        pids: {
          asker: topology.pidNumber(askerPid),
          generation: topology.generation,
          fingerprint: topology.fingerprint,
          numberOf,
        },
      },
    };
  }

  /** Orders the answer's CDN URLs nearest first and counts what the answer lists. */
  finish(askerPid: string | null, outcome: AnnounceOutcome): void {
    const topology = this.topology;
    const asker = topology.pidNumber(askerPid);
    const listed = this.peersListed;
    for (const peer of outcome.peers) {
      const pid = peer.pidNumber ?? topology.pidNumberOfCompact(peer.compact);
      if (asker < 0 || pid < 0) listed.unmapped += 1;
      else if (pid === asker) listed.within += 1;
      else listed.across += 1;
    }
    for (const urls of [outcome.urlList, outcome.pieceUrls]) {
      if (urls.length === 0) continue;
      const pids = new Map(urls.map((url) => [url, topology.pidOf(urlHost(url))]));
      const cost = (url: string) => (askerPid === null ? 0 : topology.cost(askerPid, pids.get(url) ?? null));
      // Stable: URLs at one cost keep the store's order.
      urls.sort((a, b) => cost(a) - cost(b));
      for (const url of urls) this.urlsListed.add(askerPid, pids.get(url) ?? null);
    }
  }

  /** Prometheus text (GET /metrics with a topology): what was listed within and across PIDs. */
  metricsText(): string {
    const lines: string[] = [];
    const traffic = (name: string, help: string, counts: PidTraffic) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [scope, value] of Object.entries(counts.toJSON())) lines.push(`${name}{scope="${scope}"} ${value}`);
    };
    traffic(
      'edgepeer_tracker_peers_listed_total',
      "Peers listed in answers, by the asker's PID: same, other, or unmapped.",
      this.peersListed,
    );
    traffic(
      'edgepeer_tracker_cdn_urls_listed_total',
      "CDN URLs listed in answers, by the asker's PID: same, other, or unmapped.",
      this.urlsListed,
    );
    const status = this.topology.status();
    lines.push(
      '# HELP edgepeer_topology_map_refusals Maps refused since the last good one (1 while the last reload failed).',
      '# TYPE edgepeer_topology_map_refusals gauge',
      `edgepeer_topology_map_refusals{map="network"} ${status.networkMap.lastError === null ? 0 : 1}`,
      `edgepeer_topology_map_refusals{map="cost"} ${status.costMap?.lastError ? 1 : 0}`,
      '# HELP edgepeer_topology_pids PIDs in the network map.',
      '# TYPE edgepeer_topology_pids gauge',
      `edgepeer_topology_pids ${status.networkMap.pids}`,
    );
    return `${lines.join('\n')}\n`;
  }

  status() {
    return {
      ...this.topology.status(),
      randomShare: this.randomShare,
      peersListed: this.peersListed.toJSON(),
      urlsListed: this.urlsListed.toJSON(),
    };
  }
}

/** The host of an http(s) URL, an IPv6 literal without its brackets ('' when there is none). */
function urlHost(url: string): string {
  const match = /^[a-z]+:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^/:?#]+)/i.exec(url);
  if (match === null) return '';
  const host = match[1]!;
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
