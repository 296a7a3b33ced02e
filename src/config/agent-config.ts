// The configuration the agent runs with, as plain data (the config file, env and flags resolved into it),
// and its embedded defaults. Here, not in src/agent, so that config depends on the parts and not on the root.
import type { HttpLimits, PartialPolicy } from '../http/index.ts';
// Not through src/http's index: this module loads with every command, the HTTP server need not.
import { DEFAULT_LIMITS as DEFAULT_HTTP_LIMITS } from '../http/limits.ts';
import type { RegistrationOptions } from '../ims/index.ts';
import type { StorageControlSettings } from '../policy/index.ts';
import type { QosSettings } from '../qos/index.ts';
// Not through src/qos's index: the defaults only.
import { DEFAULT_QOS } from '../qos/settings.ts';
import type { ScrubOptions, VerifyPolicy } from '../store/index.ts';
import type { MseMode, PeerWireLimits } from '../wire/index.ts';
import type { KeyFile } from './settings.ts';

/** Everything `edgepeer agent` runs with, as plain data (flags, env and config file resolved). */
export interface AgentConfig {
  dataDir: string;
  peer: {
    /** 0 picks a free port. */
    port: number;
    /** Default: dual stack on '::'. */
    host?: string | string[];
    /** Encrypted handshakes; default 'rc4' (plaintext when offered, RC4 when it is all a peer offers). */
    mse?: MseMode;
    limits?: Partial<PeerWireLimits>;
    /** Threads serving the peer wire on the port, the agent's own among them (default 1: the agent's only). */
    threads?: number;
  };
  /** null: no HTTP server. */
  http: {
    port: number;
    host?: string;
    /** What a request touching pieces not held gets. */
    policy: PartialPolicy;
    /** Ranges up to this many bytes of verified pieces not cached are read from disk at once (0: never). */
    directReadMaxBytes: number;
    /** Threads serving HTTP on the port, the agent's own among them (default 1: the agent's only). */
    threads?: number;
    /** Connection caps and the request timeout; default: the HTTP server's. */
    limits?: Partial<Pick<HttpLimits, 'maxConnections' | 'maxConnectionsPerIp' | 'requestTimeoutMs'>>;
    /** The base URL announced to trackers for CDN URIs; default: the listening address. */
    publicUrl?: string;
    /** Access log file ("combined" format); default: none. */
    accessLog?: string;
    /** Keys of signed URL tokens (ID and file); with any, every object and piece URL needs a token. */
    tokenKeys?: KeyFile[];
    /** Access-Control-Allow-Origin of every response ('*' or one origin); default: no CORS fields. */
    corsOrigin?: string;
  } | null;
  /** Accounting records (src/accounting); null or absent: none. */
  accounting?: { dir: string; interimMs: number; rotateBytes: number; rotateMs: number } | null;
  /** HTTPS beside HTTP, with the HTTP settings; null: none. */
  https?: {
    /** 0 picks a free port. */
    port: number;
    /** Certificate chain and private key, PEM. */
    cert: Buffer;
    key: Buffer;
  } | null;
  /** Piece cache size in bytes, shared by the wire and HTTP servers. */
  cacheBytes: number;
  /** How a piece read from disk is checked (the piece cache's VerifyPolicy). */
  cacheVerify: VerifyPolicy;
  /** Trackers announced for every object, besides each object's own. */
  trackers: string[];
  /** Announce to trackers at all. */
  announce: boolean;
  /**
   * `peerAuth: tracker`: piece bytes only to addresses on the tracker's allow-list (src/peer-auth), read at
   * `url` with the tracker's admin token in `tokenFile`, or (an edge of a controller) as the controller
   * relays it. null or absent: every peer.
   */
  peerAuth?: { url: string; tokenFile: string } | { from: 'controller' } | null;
  /**
   * An edge of a CDN controller: it enrols and reports to the controller (the next of `urls` when one
   * fails), which announces and registers for it (trackers and IMS settings are then not used). null: a
   * standalone agent.
   */
  controller?: { urls: string[]; enrolToken: string | null } | null;
  /** Register in IMS as a network peer; null: not IMS-registered. */
  ims: RegistrationOptions | null;
  hashThreads?: number;
  /** The local admin API (CLI commands go through it while the agent runs); null: none. */
  admin: {
    /** Loopback by default. */
    host: string;
    /** 0 picks a free port (the CLI finds it in the data dir's agent.json). */
    port: number;
    /** Bearer token file, created with mode 0600 if missing; default <dataDir>/admin.token. */
    tokenFile?: string;
    /** /metrics needs the token too (default: open, as /healthz). */
    metricsToken?: boolean;
    /** Serve the operator dashboard under /dashboard (default true). */
    dashboard?: boolean;
  } | null;
  /** Time given to transfers in flight at shutdown, ms. */
  shutdownGraceMs: number;
  /** The background scrub of held pieces (rate 0: off). */
  scrub: ScrubOptions;
  /** Network Storage Control (src/policy, docs/policy.md); null or absent: off. */
  storageControl?: StorageControlConfig | null;
  /** Egress limits, priority classes (src/qos, docs/qos.md); absent: none. */
  qos?: QosSettings;
}

export interface StorageControlConfig {
  settings: StorageControlSettings;
  /** The tracker's statistics URL (…/stats). */
  statsUrl: string;
  /** A tracker's scrape to follow instead of statsUrl (storageControl.scrapeUrl), or null. */
  scrape?: { url: string; intervalMs: number } | null;
  /** Info hashes it controls (lowercase), or null for every object in the store. */
  objects: string[] | null;
  /** ms between decision rounds. */
  intervalMs: number;
  /**
   * Where to find swarms the tracker invites it to (storageControl.catalogue: a folder or http(s) URL of
   * <info hash>.torrent files whose url-list names the origin), or null: invitations are not followed.
   */
  catalogue: string | null;
  /** The top-up rate of the peer wire server, bytes per second (storageControl.topUpRate); 0: off. */
  topUpBytesPerSecond: number;
}

export const DEFAULT_AGENT_CONFIG: Omit<AgentConfig, 'dataDir'> = {
  peer: { port: 6881, mse: 'rc4' },
  http: {
    port: 8080,
    policy: 'refuse',
    directReadMaxBytes: 1024 * 1024,
    corsOrigin: '*',
    limits: {
      maxConnections: DEFAULT_HTTP_LIMITS.maxConnections,
      maxConnectionsPerIp: DEFAULT_HTTP_LIMITS.maxConnectionsPerIp,
      requestTimeoutMs: DEFAULT_HTTP_LIMITS.requestTimeoutMs,
    },
  },
  https: null,
  accounting: null,
  cacheBytes: 256 * 1024 * 1024,
  cacheVerify: 'checksum',
  trackers: [],
  announce: true,
  peerAuth: null,
  controller: null,
  ims: null,
  admin: { host: '127.0.0.1', port: 7070, metricsToken: false, dashboard: true },
  shutdownGraceMs: 5000,
  scrub: { bytesPerSecond: 8 * 1024 * 1024, passIntervalMs: 7 * 86_400_000, window: null },
  storageControl: null,
  qos: DEFAULT_QOS,
};

/** Where the agent can be reached, once started. */
export interface AgentAddresses {
  peerPort: number;
  peerAddresses: string[];
  httpPort: number | null;
  httpsPort: number | null;
  /** Base URLs of the HTTP server (or http.publicUrl, which may be the HTTPS one): what trackers hear as CDN URIs. */
  httpBaseUrls: string[];
  adminUrl: string | null;
}
