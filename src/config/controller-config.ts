// The configuration `edgepeer controller` runs with, as plain data, and its embedded defaults.
import type { RegistrationOptions } from '../ims/index.ts';
import type { AgentConfig, StorageControlConfig } from './agent-config.ts';
import type { KeyFile } from './settings.ts';

export interface ControllerConfig {
  /** The controller's own state: enrolled edges and tokens (fleet.json), admin token, controller.json. */
  dataDir: string;
  /** The controller as a peer holding the union of its edges' pieces. */
  peer: AgentConfig['peer'];
  /** Object and piece URLs answered with redirects to edges; null: none. */
  http: {
    port: number;
    host?: string;
    /** The base URL trackers hear as the CDN's URI; default: the listening address. */
    publicUrl?: string;
    accessLog?: string;
    corsOrigin?: string;
    /** Keys of signed URL tokens: checked before a redirect, which carries a fresh one for the edge. */
    tokenKeys?: KeyFile[];
  } | null;
  /** Where edges enrol, send heartbeats and holdings, and take commands. */
  edges: {
    host: string;
    port: number;
    /** How often edges send heartbeats; an edge silent for 3 of them is down. */
    heartbeatMs: number;
    /** Edges each ingested object is placed on. */
    replicas: number;
  };
  /** dashboard: serve the operator pages under /dashboard (default true). */
  admin: { host: string; port: number; tokenFile?: string; dashboard?: boolean } | null;
  /** Verified pieces fetched from edges for peers, kept in memory up to this. */
  cacheBytes: number;
  trackers: string[];
  announce: boolean;
  /** The CDN's identity in IMS, registered once by the controller (its edges do not register). */
  ims: RegistrationOptions | null;
  shutdownGraceMs: number;
  /**
   * Where the fleet state lives: null, in this process's memory (one controller); or Redis, shared by every
   * controller of the fleet (one of them, the leader, registers and announces).
   */
  state?: { redis: { url: string; password?: string; tlsCa?: Buffer } } | null;
  /** Network Storage Control over the fleet (docs/controller.md, "Storage control"); null or absent: off. */
  storageControl?: StorageControlConfig | null;
  /**
   * ALTO network and cost maps (docs/topology.md): HTTP clients go to the nearest edge holding the bytes,
   * pieces for peers come from the edge nearest to homeAddress, storage control places pieces where the
   * demand is (placement 'demand', the default) or as without maps ('load'). Null: no topology.
   */
  topology?: {
    networkMap: string;
    costMap?: string;
    refreshS: number;
    homeAddress?: string;
    placement?: 'demand' | 'load';
  } | null;
  /**
   * The tracker's allow-list (docs/auth.md): followed, relayed to the edges with `peerAuth: tracker`, and
   * the gate of the controller's own peer wire. Null or absent: none.
   */
  peerAuth?: { url: string; tokenFile: string } | null;
}

export const DEFAULT_CONTROLLER_CONFIG: Omit<ControllerConfig, 'dataDir'> = {
  peer: { port: 6881, mse: 'rc4' },
  http: { port: 8080, corsOrigin: '*' },
  edges: { host: '::', port: 7000, heartbeatMs: 2000, replicas: 2 },
  admin: { host: '127.0.0.1', port: 7071 },
  cacheBytes: 256 * 1024 * 1024,
  trackers: [],
  announce: true,
  ims: null,
  shutdownGraceMs: 5000,
  state: null,
  storageControl: null,
};
