import type { AccountingRecorder } from '../accounting/index.ts';
// What the agent reports: its status (the admin API's /v1/status, `edgepeer status`, the metrics read it)
// and the links of an object (`edgepeer show`: web seeds, piece URL templates, trackers, bytes moved).
import type { AgentLinks } from '../admin/index.ts';
import type { TokenCounters, UrlGate } from '../auth/index.ts';
import type { AgentAddresses } from '../config/index.ts';
import type { EdgeLink, EdgeLinkStatus } from '../fleet/index.ts';
import { type HttpServer, objectUrls } from '../http/index.ts';
import type { RegistrationState } from '../ims/index.ts';
import type {
  AnnouncesPart,
  RegistrationPart,
  ScrubPart,
  StorageControlPart,
  StorageControlStatus,
} from '../parts/index.ts';
import type { PeerAuthStatus } from '../peer-auth/index.ts';
import type { Qos, QosStatus } from '../qos/index.ts';
import type { Catalog, PieceCache, ScrubStatus, StoredObject } from '../store/index.ts';
import type { TrackerStatus } from '../tracker/index.ts';
import type { PeerWireServer, PeerWireStats } from '../wire/index.ts';

export interface AgentStatus {
  dataDir: string;
  addresses: AgentAddresses;
  objects: number;
  objectsComplete: number;
  wire: PeerWireStats;
  http: ReturnType<HttpServer['stats']> | null;
  https: ReturnType<HttpServer['stats']> | null;
  cache: ReturnType<PieceCache['stats']>;
  scrub: ScrubStatus | null;
  trackers: TrackerStatus[];
  ims: RegistrationState | null;
  /** As an edge of a controller: the link's state; null for a standalone agent. */
  controller: EdgeLinkStatus | null;
  /** Network Storage Control (docs/policy.md); null when off. */
  storageControl: StorageControlStatus | null;
  /** Egress limits, current rates per protocol and class, what waited and what was shed (docs/qos.md). */
  qos: QosStatus;
  /** Signed URL tokens checked (accepted, refused by reason); null when URLs need no token. */
  urlTokens: TokenCounters | null;
  /** Accounting records written, lost to failed writes, waiting; null when off. */
  accounting: { written: number; lost: number; queued: number } | null;
  /** peerAuth: tracker: the allow-list held (entries, the tracker's version) and its long poll; null when off. */
  peerAuth: PeerAuthStatus | null;
}

/** The parts a status is read from (the HTTP(S) servers and the wire server once listening). */
export interface StatusSources {
  dataDir: string;
  addresses: AgentAddresses;
  catalog: Pick<Catalog, 'list'>;
  wire: PeerWireServer | null;
  http: HttpServer | null;
  https: HttpServer | null;
  cache: PieceCache;
  scrub: ScrubPart;
  announces: AnnouncesPart;
  registration: RegistrationPart;
  edgeLink: EdgeLink | null;
  storageControl: StorageControlPart | null;
  qos: Qos;
  urlGate: UrlGate | null;
  accounting: AccountingRecorder | null;
  peerAuth: (() => PeerAuthStatus) | null;
}

export function agentStatus(parts: StatusSources): AgentStatus {
  const objects = parts.catalog.list();
  return {
    dataDir: parts.dataDir,
    addresses: parts.addresses,
    objects: objects.length,
    objectsComplete: objects.filter((o) => o.complete).length,
    wire: parts.wire?.stats() as PeerWireStats,
    http: parts.http?.stats() ?? null,
    https: parts.https?.stats() ?? null,
    cache: parts.cache.stats(),
    scrub: parts.scrub.status(),
    trackers: parts.announces.status(),
    ims: parts.registration.state(),
    controller: parts.edgeLink?.status() ?? null,
    storageControl: parts.storageControl?.status() ?? null,
    qos: parts.qos.status(),
    urlTokens: parts.urlGate?.counters() ?? null,
    accounting: parts.accounting?.counters() ?? null,
    peerAuth: parts.peerAuth?.() ?? null,
  };
}

/** Where an object can be had from this agent, and what it moved of it since `since`. */
export function objectLinks(
  object: StoredObject,
  agent: {
    httpBaseUrls: string[];
    trackers: string[];
    transfer: { uploaded: number; downloaded: number } | undefined;
    since: string;
  },
): AgentLinks {
  const urls = agent.httpBaseUrls.map((base) => objectUrls(base, object));
  return {
    webSeeds: urls.map((u) => u.webSeed),
    pieceUrlTemplates: urls.map((u) => u.pieceUrlTemplate),
    trackers: agent.trackers,
    transfer: {
      uploaded: agent.transfer?.uploaded ?? 0,
      downloaded: agent.transfer?.downloaded ?? 0,
      since: agent.since,
    },
  };
}
