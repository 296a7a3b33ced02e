// What the controller reports: its status (admin API /v1/status, `edgepeer status`) and its edges
// (`edgepeer edges`): health, load, free space, objects and pieces held.
import type { HttpServer } from '../http/index.ts';
import type { RegistrationState } from '../ims/index.ts';
import type { AnnouncesPart, RegistrationPart } from '../parts/index.ts';
import type { PeerAuthStatus } from '../peer-auth/index.ts';
import type { CachingSource } from '../store/index.ts';
import type { TrackerStatus } from '../tracker/index.ts';
import type { PeerWireServer, PeerWireStats } from '../wire/index.ts';
import type { ControllerAddresses } from './controller.ts';
import type { EdgeRegistry, EdgeRegistryStats } from './edge-registry.ts';
import type { EdgeSource, EdgeSourceStats } from './edge-source.ts';
import type { FleetCatalog } from './fleet-catalog.ts';
import type { EdgeNearness } from './nearness.ts';

/** One line of `edgepeer edges --json`. Field names are a stable interface for scripts. */
export interface EdgeSummary {
  id: string;
  name: string;
  /** 'up': heartbeats on time and serving; 'draining': up, taking no new requests; 'set-aside': up, failed a
   * fetch lately; 'down': no heartbeat for 3 periods (or it left). */
  health: 'up' | 'draining' | 'set-aside' | 'down';
  /** Refusing new requests (load shedding) at its last heartbeat: new ones go to other edges first. */
  shedding: boolean;
  httpBaseUrl: string | null;
  peerPort: number | null;
  connections: number | null;
  uploadBytesPerSecond: number | null;
  capacityBytes: number | null;
  freeBytes: number | null;
  objects: number;
  pieces: number;
  /** Failed fetches and pieces that failed their hash, since the controller started. */
  failures: number;
  corruptPieces: number;
  enrolledAt: string;
  lastSeen: string | null;
}

export interface ControllerStatus {
  role: 'controller';
  /** Registers in IMS and announces for the CDN: the only controller, or the holder of the shared lease. */
  leader: boolean;
  dataDir: string;
  addresses: ControllerAddresses;
  edges: { enrolled: number; up: number; serving: number };
  objects: number;
  objectsComplete: number;
  registry: EdgeRegistryStats;
  fetches: EdgeSourceStats;
  cache: ReturnType<CachingSource['stats']>;
  wire: PeerWireStats | null;
  http: ReturnType<HttpServer['stats']> | null;
  trackers: TrackerStatus[];
  ims: RegistrationState | null;
  /** ALTO maps and the bytes redirected and fetched within and across PIDs; null without maps. */
  topology: ReturnType<EdgeNearness['status']> | null;
  /** The tracker's allow-list followed and relayed to the edges (peer-auth-url); null when not. */
  peerAuth: PeerAuthStatus | null;
}

export function edgeSummaries(catalog: FleetCatalog, now = Date.now()): EdgeSummary[] {
  return catalog
    .edges()
    .map((edge): EdgeSummary => {
      const live = edge.liveness;
      const held = catalog.heldBy(edge.record.id);
      const health =
        live === undefined ? 'down' : edge.record.draining ? 'draining' : edge.setAsideUntil > now ? 'set-aside' : 'up';
      return {
        id: edge.record.id,
        name: edge.record.name,
        health,
        shedding: live?.shedding === true,
        httpBaseUrl: live?.address.httpBaseUrl ?? null,
        peerPort: live?.address.peerPort ?? null,
        connections: live?.connections ?? null,
        uploadBytesPerSecond: live?.uploadBytesPerSecond ?? null,
        capacityBytes: live?.capacityBytes ?? null,
        freeBytes: live?.freeBytes ?? null,
        objects: held.objects,
        pieces: held.pieces,
        failures: edge.failures,
        corruptPieces: edge.corruptPieces,
        enrolledAt: new Date(edge.record.enrolledAt).toISOString(),
        lastSeen: live === undefined ? null : new Date(live.lastSeen).toISOString(),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

export function controllerStatus(parts: {
  dataDir: string;
  addresses: ControllerAddresses;
  catalog: FleetCatalog;
  registry: EdgeRegistry;
  source: EdgeSource;
  cache: CachingSource;
  wire: PeerWireServer | null;
  http: HttpServer | null;
  announces: AnnouncesPart;
  registration: RegistrationPart;
  leader: boolean;
  nearness: EdgeNearness | null;
  peerAuth: PeerAuthStatus | null;
}): ControllerStatus {
  const objects = parts.catalog.list();
  const edges = parts.catalog.edges();
  return {
    role: 'controller',
    leader: parts.leader,
    dataDir: parts.dataDir,
    addresses: parts.addresses,
    edges: {
      enrolled: edges.length,
      up: edges.filter((edge) => edge.liveness !== undefined).length,
      serving: edges.filter((edge) => parts.catalog.serving(edge)).length,
    },
    objects: objects.length,
    objectsComplete: objects.filter((object) => object.complete).length,
    registry: parts.registry.stats(),
    fetches: parts.source.stats(),
    cache: parts.cache.stats(),
    wire: parts.wire?.stats() ?? null,
    http: parts.http?.stats() ?? null,
    trackers: parts.announces.status(),
    ims: parts.registration.state(),
    topology: parts.nearness?.status() ?? null,
    peerAuth: parts.peerAuth,
  };
}
