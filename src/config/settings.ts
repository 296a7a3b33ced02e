// The one table of agent settings: every key of the config file with its type, default, environment variable,
// flag and one-line explanation. The file schema (schema.ts), env parsing, flag mapping, the starter file
// (`config init`) and docs/configuration.md all follow it, so they cannot drift apart.
// This module is plain data with no dependencies: every command loads src/config, and only the commands that
// read configuration pay for the schema library and the YAML parser.
// Not through src/http's index: this module loads with every command, the HTTP server need not.
import { isHttpOrigin } from '../http/urls.ts';
import { formatDuration, formatSize } from './units.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const PARTIAL_POLICIES = ['refuse', 'redirect', 'pull-through'] as const;
export const CACHE_VERIFY_POLICIES = ['checksum', 'every-read', 'first-read'] as const;
export const SIP_TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export const MSE_MODES = ['plaintext', 'rc4', 'off'] as const;
export const PEER_AUTH_MODES = ['none', 'tracker'] as const;

/** What a key holds; schema.ts turns each into a checker with a message saying what is expected. */
export type ValueType =
  | { type: 'int'; min: number; max: number }
  /** "256MiB", "1g" or bytes. */
  | { type: 'size'; min: number; max: number }
  /** "5s", "1h30m" or a number of `bare` units. */
  | { type: 'duration'; min: number; max: number; bare: 's' | 'ms' }
  | { type: 'bool' }
  | { type: 'enum'; values: readonly [string, ...string[]] }
  /** A non-empty string; `what` completes "must be ...". */
  | { type: 'string'; what: string; noSpaces?: boolean; check?: (value: string) => boolean }
  | { type: 'url'; protocols: readonly string[]; what: string }
  | { type: 'urls'; protocols: readonly string[]; what: string }
  | { type: 'host' }
  /** One address or a list of them. */
  | { type: 'hosts' }
  | { type: 'sip'; what: string; needsUser?: boolean }
  /** HOST:PORT. */
  | { type: 'listen' }
  /** Named key files, `ID=FILE` each: a list (env and flags: comma-separated or repeated). */
  | { type: 'keyFiles' };

/** The value the agent uses for a ValueType (bytes, ms, parsed addresses). */
export type ValueOf<T extends ValueType> = T extends { type: 'int' | 'size' | 'duration' }
  ? number
  : T extends { type: 'bool' }
    ? boolean
    : T extends { type: 'enum'; values: readonly (infer V)[] }
      ? V
      : T extends { type: 'urls' }
        ? string[]
        : T extends { type: 'hosts' }
          ? string | string[]
          : T extends { type: 'listen' }
            ? ListenAddress
            : T extends { type: 'keyFiles' }
              ? KeyFile[]
              : string;

/** One named key file (`ID=FILE`). */
export interface KeyFile {
  id: string;
  file: string;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface SettingSpec {
  readonly value: ValueType;
  /** In the agent's units (bytes, ms); undefined: not set unless given. */
  readonly default?: unknown;
  /** What the starter file and docs show when the default is computed or absent. */
  readonly defaultText?: string;
  /** A value the starter file shows (commented out) for a key with no default, as YAML. */
  readonly example?: string;
  readonly doc: string;
  /** Relative paths are taken from the config file's folder (file) or the working directory (env, flags). */
  readonly isPath?: boolean;
  /** The `edgepeer agent` flag that sets it. */
  readonly flag?: string;
}

const port = { type: 'int', min: 0, max: 65535 } as const;
const bool = { type: 'bool' } as const;
const path = (what = 'a file path') => ({ type: 'string', what }) as const;

// Peer wire limits: the same names, defaults and ranges as PeerWireLimits in src/wire/options.ts (the config
// folder sits below wire, so it keeps its own copy; test/config/settings.test.ts checks that they agree).
const limit = (def: number, min: number, max: number, doc: string) =>
  ({ value: { type: 'int', min, max }, default: def, doc }) as const;
const limitMs = (def: number, min: number, max: number, doc: string) =>
  ({ value: { type: 'duration', min, max, bare: 'ms' }, default: def, doc }) as const;
const qosRate = (flag: string, doc: string) =>
  ({ value: { type: 'size', min: 0, max: 2 ** 50 }, default: 0, doc, flag }) as const;
const limitBytes = (def: number, min: number, max: number, doc: string) =>
  ({ value: { type: 'size', min, max }, default: def, doc }) as const;

export const SETTINGS = {
  dataDir: {
    value: path('a folder path'),
    defaultText: '/var/lib/edgepeer as root, else $XDG_DATA_HOME/edgepeer (~/.local/share/edgepeer)',
    doc: 'Folder of the content store (objects, pieces, bitmaps).',
    isPath: true,
    flag: 'data-dir',
  },
  logLevel: {
    value: { type: 'enum', values: LOG_LEVELS },
    default: 'info',
    doc: `Level of the JSON logs on stderr: ${LOG_LEVELS.join(', ')}.`,
    flag: 'log-level',
  },
  hashThreads: {
    value: { type: 'int', min: 1, max: 1024 },
    defaultText: 'one per CPU core',
    example: '4',
    doc: 'Worker threads hashing pieces.',
    flag: 'hash-threads',
  },
  cacheSize: {
    value: { type: 'size', min: 0, max: Number.MAX_SAFE_INTEGER },
    default: 256 * 1024 * 1024,
    doc: 'Piece cache shared by the peer wire and HTTP servers, e.g. 256MiB, 2g.',
    flag: 'cache-size',
  },
  cacheVerify: {
    value: { type: 'enum', values: CACHE_VERIFY_POLICIES },
    default: 'checksum',
    doc:
      'How a piece read from disk is checked: checksum (SHA-1 on the first read since start, then 16 KiB block ' +
      'checksums on every read), every-read (SHA-1 on every read) or first-read (SHA-1 once, then trusted: an opt-out).',
    flag: 'cache-verify',
  },
  'scrub.rate': {
    value: { type: 'size', min: 0, max: Number.MAX_SAFE_INTEGER },
    default: 8 * 1024 * 1024,
    doc:
      'Background scrub: bytes per second read from disk and checked against their SHA-1, piece by piece, so ' +
      'that rot in content nobody asks for is found (the piece is dropped and peers and trackers told); 0 turns it off.',
    flag: 'scrub-rate',
  },
  'scrub.interval': {
    value: { type: 'duration', min: 60_000, max: 366 * 86_400_000, bare: 's' },
    default: 7 * 86_400_000,
    doc: 'Least time from the start of one scrub pass over every held piece to the start of the next.',
  },
  'scrub.window': {
    // The shape here; the hours and minutes are checked with the file and line by checkTogether (resolve.ts).
    value: {
      type: 'string',
      what: 'HH:MM-HH:MM in local time',
      check: (value) => /^\d{1,2}:\d{2}-\d{1,2}:\d{2}$/.test(value),
    },
    defaultText: 'any time',
    example: '01:00-06:00',
    doc: 'Daily local-time window the scrub reads in (off-peak hours); it may wrap past midnight.',
    flag: 'scrub-window',
  },
  shutdownGrace: {
    value: { type: 'duration', min: 0, max: 3_600_000, bare: 's' },
    default: 5000,
    doc: 'Time transfers in flight get to finish on SIGTERM/SIGINT, e.g. 5s, 1m.',
    flag: 'shutdown-grace',
  },
  trackers: {
    value: { type: 'urls', protocols: ['http:', 'https:', 'udp:'], what: 'a tracker announce URL' },
    default: [],
    doc: "Tracker announce URLs for every object, besides each object's own (env: comma-separated).",
    flag: 'tracker',
  },
  announce: {
    value: bool,
    default: true,
    doc: 'Announce objects to trackers at all.',
    flag: 'announce',
  },
  peerAuth: {
    value: { type: 'enum', values: PEER_AUTH_MODES },
    default: 'none',
    doc:
      'Who gets piece bytes on the peer wire: none (everyone), or tracker: only addresses on the allow-list the ' +
      'tracker builds from the passkey announces it answered, for that object (peerAuthUrl, docs/auth.md); others ' +
      'get their requests rejected, counted once per peer.',
    flag: 'peer-auth',
  },
  peerAuthUrl: {
    value: {
      type: 'url',
      protocols: ['http:', 'https:'],
      what: "an http(s) URL of an edgepeer tracker's /peer-auth/allowed",
    },
    defaultText: 'none (needed with peerAuth: tracker)',
    example: 'http://tracker.example.net:6969/peer-auth/allowed',
    doc:
      "The tracker's allow-list, followed by long poll with peerAuth: tracker. An edge of a controller without " +
      'it (and without peerAuthTokenFile) follows the allow-list the controller relays (controller --peer-auth-url).',
    flag: 'peer-auth-url',
  },
  peerAuthTokenFile: {
    value: path(),
    defaultText: 'none (needed with peerAuth: tracker)',
    example: '/etc/edgepeer/tracker-admin.token',
    doc: "File holding the tracker's admin token (edgepeer tracker --admin-token-file), sent to read the allow-list.",
    isPath: true,
    flag: 'peer-auth-token-file',
  },
  'peer.port': {
    value: port,
    default: 6881,
    doc: 'Peer wire (BitTorrent) TCP port; 0 picks a free one.',
    flag: 'peer-port',
  },
  'peer.host': {
    value: { type: 'hosts' },
    defaultText: 'all addresses, IPv4 and IPv6',
    example: '"::"',
    doc: 'Address(es) the peer wire server listens on (env: comma-separated).',
    flag: 'peer-host',
  },
  'peer.mse': {
    value: { type: 'enum', values: MSE_MODES },
    default: 'rc4',
    doc:
      'Encrypted handshakes (MSE/PE, tried first by aria2c, libtorrent and Transmission): rc4 goes on ' +
      'unencrypted when the peer offers it and in RC4 when that is all it offers (Transmission by default; ' +
      'JavaScript RC4, ~250 MB/s a core); plaintext closes peers that offer only RC4; off closes every ' +
      'encrypted handshake (clients retry in plaintext).',
    flag: 'peer-mse',
  },
  'peer.limits.maxConnections': limit(2000, 1, 1_000_000, 'Connections open at once; more are closed on accept.'),
  'peer.limits.maxConnectionsPerIp': limit(8, 1, 1_000_000, 'Connections open at once from one IP address.'),
  'peer.limits.uploadSlots': limit(16, 1, 100_000, 'Peers unchoked at once in regular slots, across all objects.'),
  'peer.limits.optimisticSlots': limit(1, 0, 100_000, 'Extra slots for a random waiting peer, rotated.'),
  'peer.limits.slotQuantumMs': limitMs(30_000, 1, 86_400_000, 'Least time a peer keeps a regular slot.'),
  'peer.limits.rechokeIntervalMs': limitMs(10_000, 10, 3_600_000, 'How often slots are reconsidered.'),
  'peer.limits.optimisticIntervalMs': limitMs(30_000, 10, 3_600_000, 'How often the optimistic slot rotates.'),
  'peer.limits.maxQueuedRequests': limit(2000, 1, 100_000, 'Requests a peer may have queued (BEP 6 reqq).'),
  'peer.limits.maxBlockLength': limitBytes(16 * 1024, 1024, 128 * 1024, 'Largest block a peer may request.'),
  'peer.limits.allowedFastSetSize': limit(10, 0, 1000, 'Pieces in the BEP 6 allowed-fast set; 0 disables it.'),
  'peer.limits.handshakeTimeoutMs': limitMs(10_000, 10, 3_600_000, 'From accept to a valid handshake.'),
  'peer.limits.idleTimeoutMs': limitMs(180_000, 10, 86_400_000, 'Close a peer silent for this long.'),
  'peer.limits.keepAliveIntervalMs': limitMs(60_000, 10, 86_400_000, 'Send a keep-alive after this long idle.'),
  'peer.limits.sendBufferBytes': limitBytes(
    256 * 1024,
    16 * 1024,
    1024 * 1024 * 1024,
    'Bytes queued for one peer before serving pauses.',
  ),
  'peer.limits.prefetch': {
    value: bool,
    default: true,
    doc: "Read ahead a peer's next requested piece while sending the current one.",
  },
  'peer.limits.prefetchDepth': limit(
    1,
    1,
    64,
    'Pieces read ahead per peer with prefetch on: the next ones in its request queue (a controller uses 4).',
  ),
  'peer.threads': {
    value: { type: 'int', min: 1, max: 32 },
    default: 1,
    doc:
      "Threads serving the peer wire on peer.port (SO_REUSEPORT; Linux), the agent's own among them, sharing " +
      "the piece cache, the counters and the store's integrity state with each other and with http.threads. " +
      'Each thread has an equal share of peer.limits.uploadSlots and maxConnections (at least 1); ' +
      'optimisticSlots and maxConnectionsPerIp apply per thread. More than 1 cannot go with peerAuth tracker, ' +
      "accounting, egress limits or top-up. The dashboard's peer list shows every thread's peers (each thread's at most a second old).",
    flag: 'peer-threads',
  },
  'http.limits.maxConnections': limit(4096, 1, 1_000_000, 'HTTP connections open at once; more are closed on accept.'),
  'http.limits.maxConnectionsPerIp': limit(
    256,
    1,
    1_000_000,
    'HTTP connections open at once from one client address (as nginx limit_conn); more are closed on accept.',
  ),
  'http.limits.requestTimeoutMs': limitMs(
    10_000,
    10,
    3_600_000,
    'Time a whole request (line, fields, body) may take from its first byte, however slowly it trickles: 408 beyond.',
  ),
  'http.enabled': {
    value: bool,
    default: true,
    doc: 'Serve objects and pieces over HTTP (ranges, BEP 19 web seed).',
    flag: 'http',
  },
  'http.port': {
    value: port,
    default: 8080,
    doc: 'HTTP port; 0 picks a free one.',
    flag: 'http-port',
  },
  'http.host': {
    value: { type: 'host' },
    defaultText: 'all addresses, IPv4 and IPv6',
    example: '"::"',
    doc: 'Address the HTTP server listens on.',
    flag: 'http-host',
  },
  'http.policy': {
    value: { type: 'enum', values: PARTIAL_POLICIES },
    default: 'refuse',
    doc: `Answer to requests for pieces not held: ${PARTIAL_POLICIES.join(', ')}.`,
    flag: 'partial-policy',
  },
  'http.threads': {
    value: { type: 'int', min: 1, max: 32 },
    default: 1,
    doc:
      "Threads serving HTTP on one port (SO_REUSEPORT; Linux), the agent's own among them, sharing one piece " +
      'cache (a slab of slots the size of the largest piece held at start), one set of counters and the ' +
      "store's integrity state; the hashing pool keeps its own threads. More than 1 needs http.policy refuse " +
      "or redirect and no access log, tokens, accounting, egress limits or top-up; HTTPS stays on the agent's thread. " +
      'docs/benchmarks.md has what a second thread costs and buys.',
    flag: 'http-threads',
  },
  'http.directRead': {
    value: { type: 'size', min: 0, max: 16 * 1024 * 1024 },
    default: 1024 * 1024,
    doc:
      'Ranges up to this size within one piece verified since start and not in the piece cache are read ' +
      'straight from disk, without waiting on the I/O threads (microseconds from the page cache); ' +
      '0 sends them through the piece cache (whole pieces), for disks so slow a blocking read would stall others.',
  },
  'http.publicUrl': {
    value: { type: 'url', protocols: ['http:', 'https:'], what: 'an http or https URL' },
    defaultText: 'the listening address',
    example: 'http://edge1.cdn.example.net:8080',
    doc: 'Base URL clients reach this agent at (CDN URIs announced to trackers).',
    flag: 'public-url',
  },
  'http.accessLog': {
    value: path(),
    defaultText: 'none',
    example: '/var/log/edgepeer/access.log',
    doc: 'File to append one line per HTTP response to, in the "combined" format of nginx and Apache; reopened on SIGHUP (logrotate).',
    isPath: true,
    flag: 'access-log',
  },
  'http.corsOrigin': {
    value: {
      type: 'string',
      what: "'*', 'off' or one origin such as https://player.example.net",
      check: (value) => value === '*' || value === 'off' || isHttpOrigin(value),
    },
    default: '*',
    example: 'https://player.example.net',
    doc:
      'Access-Control-Allow-Origin of every response: * lets any web page fetch objects and pieces (browser ' +
      'BitTorrent clients using web seeds, HTML5 players); one origin allows only it; off sends no CORS fields.',
    flag: 'cors-origin',
  },
  'http.tokenKeys': {
    value: { type: 'keyFiles' },
    defaultText: 'none: URLs need no token',
    example: '[2026a=/etc/edgepeer/url-key-2026a, 2026b=/etc/edgepeer/url-key-2026b]',
    doc:
      'Keys of signed URL tokens, ID=FILE each (the file: 32 or more hex digits, or 16 or more bytes); with any, ' +
      'every object and piece URL needs a valid token (403 missing or bad, 410 expired; docs/http.md). Several ' +
      'at once for rotation; files read again on SIGHUP.',
    isPath: true,
    flag: 'token-key',
  },
  'accounting.dir': {
    value: path('a folder path'),
    defaultText: 'none: no accounting records',
    example: '/var/lib/edgepeer/accounting',
    doc:
      'Folder of accounting records: one JSON line per HTTP response and per peer-wire session (interim ones for ' +
      'long sessions), written within a second, rotated by size and age; `edgepeer accounting` sums them up.',
    isPath: true,
    flag: 'accounting-dir',
  },
  'accounting.interim': {
    value: { type: 'duration', min: 100, max: 86_400_000, bare: 's' },
    default: 60_000,
    doc: 'A peer-wire session still open gets an interim record of the bytes sent since its last one this often.',
  },
  'accounting.rotateSize': {
    value: { type: 'size', min: 4096, max: Number.MAX_SAFE_INTEGER },
    default: 64 * 1024 * 1024,
    doc: 'The current accounting file is set aside (accounting-<start>-<run>.jsonl) once it holds this much.',
  },
  'accounting.rotateAge': {
    value: { type: 'duration', min: 1000, max: 31 * 86_400_000, bare: 's' },
    default: 3_600_000,
    doc: 'The current accounting file is set aside once it is this old.',
  },
  'https.port': {
    value: port,
    defaultText: 'none: no HTTPS',
    example: '8443',
    doc: 'HTTPS port, serving what the HTTP server serves, with its settings (needs http.enabled, https.certFile and https.keyFile); 0 picks a free one.',
    flag: 'https-port',
  },
  'https.certFile': {
    value: path(),
    defaultText: 'none',
    example: '/etc/edgepeer/tls/fullchain.pem',
    doc: 'Certificate chain (PEM) of the HTTPS server; read again on SIGHUP, so a renewed certificate needs no restart.',
    isPath: true,
    flag: 'https-cert',
  },
  'https.keyFile': {
    value: path(),
    defaultText: 'none',
    example: '/etc/edgepeer/tls/privkey.pem',
    doc: 'Private key (PEM) of that certificate; keep it mode 0640, group edgepeer.',
    isPath: true,
    flag: 'https-key',
  },
  'controller.url': {
    value: { type: 'urls', protocols: ['http:', 'https:'], what: "an http(s) URL of a controller's edge listener" },
    defaultText: 'unset: the agent announces and registers in IMS itself',
    example: '[http://controller1.cdn.example.net:7000, http://controller2.cdn.example.net:7000]',
    doc: 'Join this CDN controller as one of its edges (TR 23.844 6.2.2): it announces and registers for the CDN, this agent neither announces nor registers. Several (controllers sharing one fleet in Redis): the next is used when one fails.',
    flag: 'controller',
  },
  'controller.enrolToken': {
    value: { type: 'string', what: 'an enrolment token (ept_...) or the path of a file holding one', noSpaces: true },
    defaultText: 'unset; needed only until the edge has enrolled',
    example: '/etc/edgepeer/enrol-token',
    doc: "One-time token from `edgepeer controller token create` (or a file holding it): exchanged at first start for the edge's own key, kept in the data dir.",
    flag: 'enrol-token',
  },
  'ims.registrar': {
    value: { type: 'sip', what: 'a sip: or sips: URI' },
    defaultText: 'unset, so no IMS registration',
    example: 'sip:pcscf.ims.example.net:5060',
    doc: 'P-CSCF or registrar to REGISTER with; setting it turns IMS registration on.',
    flag: 'ims-registrar',
  },
  'ims.impi': {
    value: { type: 'string', what: 'a private identity without spaces or quotes', noSpaces: true },
    example: 'edge1@ims.example.net',
    doc: 'Private user identity (IMPI): the digest username.',
    flag: 'ims-impi',
  },
  'ims.impu': {
    value: {
      type: 'sip',
      what: 'a public identity SIP URI with a user, e.g. sip:edge1@ims.example.net',
      needsUser: true,
    },
    example: 'sip:edge1@ims.example.net',
    doc: 'Public user identity (IMPU) registered.',
    flag: 'ims-impu',
  },
  'ims.passwordFile': {
    value: path(),
    defaultText: 'unset, so the password comes from EDGEPEER_IMS_PASSWORD',
    example: '/etc/edgepeer/ims-password',
    doc: 'File holding the digest password (keep it mode 0640, group edgepeer).',
    isPath: true,
    flag: 'ims-password-file',
  },
  'ims.tlsCaFile': {
    value: path(),
    defaultText: "Node's bundled public CAs",
    example: '/etc/edgepeer/ims-ca.pem',
    doc: "PEM file of the CA certificates that sign the registrar's TLS certificate (sips:, transport tls), for an operator's own PKI.",
    isPath: true,
    flag: 'ims-tls-ca',
  },
  'ims.transport': {
    value: { type: 'enum', values: SIP_TRANSPORTS },
    defaultText: "the registrar URI's transport parameter, else udp (tls for sips:)",
    example: 'tcp',
    doc: `SIP transport: ${SIP_TRANSPORTS.join(', ')}.`,
    flag: 'ims-transport',
  },
  'ims.expires': {
    value: { type: 'int', min: 1, max: 2 ** 31 - 1 },
    default: 600_000,
    doc: 'Requested registration expiry in seconds (the registrar may grant less).',
    flag: 'ims-expires',
  },
  'ims.domain': {
    value: { type: 'host' },
    defaultText: 'the host of ims.impu',
    example: 'ims.example.net',
    doc: 'Home network domain (Request-URI).',
  },
  'ims.contactHost': {
    value: { type: 'host' },
    defaultText: 'the local socket address',
    example: 'edge1.cdn.example.net',
    doc: 'Address put in the Contact, when the local one is not reachable (NAT).',
  },
  'ims.contactPort': {
    value: { type: 'int', min: 1, max: 65535 },
    defaultText: 'the local port',
    example: '5060',
    doc: 'Port put in the Contact.',
  },
  'ims.localPort': {
    value: port,
    defaultText: 'any',
    example: '5060',
    doc: 'Local UDP port to send REGISTER from (and be reached at).',
  },
  'storageControl.enabled': {
    value: bool,
    default: false,
    doc:
      'Network Storage Control (TR 23.844 6.2.3, docs/policy.md): follow the swarm statistics of the objects ' +
      'in the store, ingest pieces the swarm lacks from their origin and purge pieces that became plentiful.',
    flag: 'storage-control',
  },
  'storageControl.statsUrl': {
    value: { type: 'url', protocols: ['http:', 'https:'], what: "an http(s) URL of an edgepeer tracker's /stats" },
    defaultText: 'the first http(s) tracker of trackers, with /announce replaced by /stats',
    example: 'http://tracker.example.net:6969/stats',
    doc: "Swarm statistics to follow (edgepeer tracker's /stats and its long poll).",
    flag: 'stats-url',
  },
  'storageControl.scrapeUrl': {
    value: { type: 'url', protocols: ['http:', 'https:'], what: "an http(s) URL of a tracker's scrape (BEP 48)" },
    example: 'http://tracker.example.net:6969/scrape',
    doc:
      'Follow swarms by scraping this tracker (BEP 48: seeds and leechers, no pieces) instead of statsUrl, for ' +
      'trackers that have nothing more (opentracker and most others); invitations need statsUrl.',
    flag: 'scrape-url',
  },
  'storageControl.scrapeInterval': {
    value: { type: 'duration', min: 1000, max: 3_600_000, bare: 's' },
    default: 30_000,
    doc: "Time between scrapes of storageControl.scrapeUrl (longer if the tracker's min_request_interval says so).",
  },
  'storageControl.objects': {
    value: {
      type: 'string',
      what: 'all, or info hashes (40 hex) separated by commas',
      check: (value) => /^\s*(all|[0-9a-fA-F]{40}(\s*,\s*[0-9a-fA-F]{40})*)\s*$/.test(value),
    },
    default: 'all',
    example: 'c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff',
    doc: 'Which objects of the store it controls: all, or a comma-separated list of info hashes.',
  },
  'storageControl.lowCopies': {
    value: { type: 'int', min: 1, max: 1_000_000 },
    default: 2,
    doc: 'Ingest a piece leechers want when fewer copies than this are outside the CDN.',
  },
  'storageControl.highCopies': {
    value: { type: 'int', min: 2, max: 1_000_000 },
    default: 4,
    doc: 'Purge a held piece once this many copies or more stay outside the CDN for storageControl.hold (above lowCopies).',
  },
  'storageControl.demandPerCopy': {
    value: { type: 'int', min: 0, max: 1_000_000 },
    default: 0,
    doc: 'Also ingest a piece when leechers per copy outside the CDN reach this; 0 turns it off.',
  },
  'storageControl.copiesPerLeecher': {
    value: { type: 'int', min: 0, max: 1_000_000 },
    default: 0,
    doc:
      'Copies outside the CDN each leecher needs for its full rate (about its downlink over a peer uplink): ingest ' +
      'and keep pieces while fewer than leechers x this; 0 turns it off.',
  },
  'storageControl.paceSeedsPerLeecher': {
    value: { type: 'int', min: 0, max: 1_000_000 },
    default: 0,
    doc:
      'Top-up paces a swarm only while its seeds outside the CDN are at least this many per leecher (a thin ' +
      "swarm's peers cannot make up what pacing holds back); 0: every swarm the edge is not the only source of.",
  },
  'storageControl.topUpRate': {
    value: { type: 'size', min: 0, max: Number.MAX_SAFE_INTEGER },
    default: 0,
    doc:
      'The rate a leecher should get from this agent and its other peers together, bytes per second: over 2 s the ' +
      'agent measures what a leecher completed (HAVE) less what it sent it, and pauses sending past the rest, so ' +
      'peers serve what they can; HTTP(S) responses to the same client address are paced likewise; not in a swarm ' +
      "where the agent is the only source of a wanted piece (no seed yet); 0: off. Near the leechers' downlink; " +
      'lower saves more CDN egress and lengthens downloads (docs/policy.md, Top-up).',
  },
  'storageControl.setAside': {
    value: bool,
    default: true,
    doc:
      'Keep the bytes of pieces purged as plentiful aside (not served, within budget), to put them back without ' +
      'the origin if they turn rare.',
  },
  'storageControl.hold': {
    value: { type: 'duration', min: 0, max: 7 * 86_400_000, bare: 's' },
    default: 60_000,
    doc: 'How long copies must stay at or above highCopies before the piece is purged.',
  },
  'storageControl.ttl': {
    value: { type: 'duration', min: 0, max: 366 * 86_400_000, bare: 's' },
    default: 0,
    doc: 'Pieces it ingested are purged this long after ingest unless still below lowCopies; 0: no TTL.',
  },
  'storageControl.budget': {
    value: { type: 'size', min: 0, max: Number.MAX_SAFE_INTEGER },
    default: 10 * 1024 ** 3,
    doc: 'Bytes of pieces it may hold across the objects it controls.',
  },
  'storageControl.ingestRate': {
    value: { type: 'size', min: 0, max: Number.MAX_SAFE_INTEGER },
    default: 0,
    doc: 'Average ingest bandwidth from origins, bytes per second (bursts of 10 s); 0: unlimited.',
  },
  'storageControl.opsPerMinute': {
    value: { type: 'int', min: 1, max: 1_000_000 },
    default: 60,
    doc: 'Ingest and purge operations per minute (one operation: the pieces of one object in one round).',
  },
  'storageControl.stale': {
    value: { type: 'duration', min: 1000, max: 86_400_000, bare: 's' },
    default: 120_000,
    doc: 'Statistics older than this are stale: decisions are held (nothing ingested or purged) until fresh ones come.',
  },
  'storageControl.catalogue': {
    value: { type: 'string', what: 'a folder, or an http(s) URL, of <info hash>.torrent files' },
    example: 'http://catalogue.example.net/torrents/',
    doc:
      "Follow the tracker's invitations (GET /invitations beside statsUrl) and join the swarms it invites to, with " +
      'the .torrent named <info hash>.torrent here; its url-list names the origin. Unset: invitations are not followed.',
  },
  'storageControl.interval': {
    value: { type: 'duration', min: 100, max: 3_600_000, bare: 's' },
    default: 5000,
    doc: 'Time between decision rounds (a change in the statistics also starts one).',
  },
  'qos.rate': qosRate(
    'qos-rate',
    'Egress limit of the peer wire and HTTP(S) servers together, bytes per second (e.g. 100MiB; 0: none); token buckets shared by both, changed live by `edgepeer qos set` (docs/qos.md).',
  ),
  'qos.wireRate': qosRate('qos-wire-rate', 'Egress limit of the peer wire server, bytes per second; 0: none.'),
  'qos.httpRate': qosRate('qos-http-rate', 'Egress limit of the HTTP server, bytes per second; 0: none.'),
  'qos.httpsRate': qosRate('qos-https-rate', 'Egress limit of the HTTPS server, bytes per second; 0: none.'),
  'qos.objectRate': qosRate('qos-object-rate', 'Egress limit of each object on its own, bytes per second; 0: none.'),
  'qos.clientRate': qosRate(
    'qos-client-rate',
    'Egress limit of each client address on its own (peer or HTTP client), bytes per second; 0: none.',
  ),
  'qos.classes': {
    value: {
      type: 'string',
      what: 'name:weight[:rate] items separated by commas, such as gold:3,bronze:1:10MiB',
      check: (value) =>
        /^\s*[A-Za-z0-9_-]+:\d+(:[0-9.]+[A-Za-z]*)?(\s*,\s*[A-Za-z0-9_-]+:\d+(:[0-9.]+[A-Za-z]*)?)*\s*$/.test(value),
    },
    defaultText: 'one class, default (weight 1)',
    example: 'gold:3,bronze:1:50MiB',
    doc: 'Priority classes with weights (and an optional limit each): under contention each class gets its weighted share, deficit round robin; objects not in qos.objectClasses (and requests of subscribers not in qos.subscriberClasses) are in class default (weight 1 unless listed).',
    flag: 'qos-classes',
  },
  'qos.objectClasses': {
    value: {
      type: 'string',
      what: '<info hash>=<class> items separated by commas',
      check: (value) =>
        /^\s*[0-9a-fA-F]{40}\s*=\s*[A-Za-z0-9_-]+(\s*,\s*[0-9a-fA-F]{40}\s*=\s*[A-Za-z0-9_-]+)*\s*$/.test(value),
    },
    defaultText: 'none: every object in class default',
    example: 'c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff=default',
    doc: 'The class of each listed object (info hash=class, comma-separated).',
    flag: 'qos-object-classes',
  },
  'qos.subscriberClasses': {
    value: {
      type: 'string',
      what: '<subscriber>=<class> items separated by commas (a subscriber as signed URL tokens name it)',
      check: (value) =>
        /^\s*[A-Za-z0-9._@:+-]+\s*=\s*[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9._@:+-]+\s*=\s*[A-Za-z0-9_-]+)*\s*$/.test(value),
    },
    defaultText: "none: requests go by their object's class",
    example: 'sip:alice@ims.example.net=default',
    doc: "The class of HTTP(S) requests whose signed URL token names the subscriber (its sub), over the object's class (subscriber=class, comma-separated).",
    flag: 'qos-subscriber-classes',
  },
  'qos.altRate': qosRate(
    'qos-alt-rate',
    "The global limit inside qos.altWindow instead of qos.rate (Transmission's alt-speed), bytes per second; 0: no alternative limit (the window does nothing).",
  ),
  'qos.altWindow': {
    value: {
      type: 'string',
      what: 'HH:MM-HH:MM in local time',
      check: (value) => /^\d{1,2}:\d{2}-\d{1,2}:\d{2}$/.test(value),
    },
    defaultText: 'none',
    example: '09:00-18:00',
    doc: 'Daily local-time window in which qos.altRate is the global limit (e.g. business hours); it may wrap past midnight.',
    flag: 'qos-alt-window',
  },
  'qos.shedConnections': {
    value: { type: 'int', min: 0, max: 10_000_000 },
    default: 0,
    doc: 'Load shedding: above this many peer wire and HTTP(S) connections together, new HTTP requests get 503 with Retry-After and new peer wire requests a BEP 6 reject (those admitted finish), until below 90 %; 0: off.',
    flag: 'qos-shed-connections',
  },
  'qos.shedQueuedBytes': {
    value: { type: 'size', min: 0, max: 2 ** 50 },
    default: 0,
    doc: 'Load shedding above this many bytes queued for sending (socket buffers of peers, senders waiting for tokens); 0: off.',
    flag: 'qos-shed-queued',
  },
  'qos.shedLoopDelayMs': {
    value: { type: 'duration', min: 0, max: 3_600_000, bare: 'ms' },
    default: 0,
    doc: 'Load shedding above this event-loop delay (how late a 100 ms timer fires: the process is short of CPU); 0: off.',
    flag: 'qos-shed-loop-delay',
  },
  'qos.retryAfterMs': {
    value: { type: 'duration', min: 1000, max: 3_600_000, bare: 'ms' },
    default: 5000,
    doc: 'Retry-After of an HTTP request refused by load shedding (whole seconds).',
  },
  'admin.enabled': {
    value: bool,
    default: true,
    doc: 'Serve the local admin API.',
    flag: 'admin',
  },
  'admin.listen': {
    value: { type: 'listen' },
    default: { host: '127.0.0.1', port: 7070 },
    doc: 'HOST:PORT of the admin API; keep it on loopback.',
    flag: 'admin-listen',
  },
  'admin.tokenFile': {
    value: path(),
    defaultText: '<dataDir>/admin.token',
    doc: 'Bearer token of the admin API; created with mode 0600 if missing.',
    isPath: true,
    flag: 'admin-token-file',
  },
  'admin.dashboard': {
    value: bool,
    default: true,
    doc: 'Serve the operator dashboard at /dashboard on the admin API (docs/dashboard.md); false: /dashboard is not found.',
    flag: 'dashboard',
  },
  'admin.metricsToken': {
    value: bool,
    default: false,
    doc:
      'Require the admin token on /metrics too (Prometheus: authorization.credentials_file); by default /metrics ' +
      'and /healthz answer anyone who reaches the admin listener, on loopback unless admin.listen says otherwise.',
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
/** The value of a setting as the agent uses it. */
export type SettingValue<K extends SettingKey> = ValueOf<(typeof SETTINGS)[K]['value']>;

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

export function settingSpec(key: SettingKey): SettingSpec {
  return SETTINGS[key];
}

/** peer.limits.maxConnections -> EDGEPEER_PEER_LIMITS_MAX_CONNECTIONS. */
export function envName(key: string): string {
  return `EDGEPEER_${key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/\./g, '_')
    .toUpperCase()}`;
}

/** Environment variables that are not keys of the file but that the configuration reads. */
export const EXTRA_ENV = {
  config: 'EDGEPEER_CONFIG',
  password: 'EDGEPEER_IMS_PASSWORD',
  akaK: 'EDGEPEER_IMS_AKA_K',
  akaOp: 'EDGEPEER_IMS_AKA_OP',
  akaOpc: 'EDGEPEER_IMS_AKA_OPC',
} as const;

/** A flag of `edgepeer agent` that sets a key; `invert`: the flag's true means the key's false. */
export interface AgentFlag {
  flag: string;
  key: SettingKey;
  env: string;
  kind: 'integer' | 'string' | 'boolean' | 'multiple';
  invert?: boolean;
  description: string;
  /** The values it takes, when they are a list (shown by --help, checked by the parser). */
  options?: readonly string[];
  /** The default as people write it (256MiB, 5s), for --help. */
  defaultText?: string;
}

/** The flags resolveAgentConfig understands, for the agent command to declare (with no oclif defaults). */
export const AGENT_FLAGS: readonly AgentFlag[] = [
  ...SETTING_KEYS.flatMap((key): AgentFlag[] => {
    const spec: SettingSpec = SETTINGS[key];
    if (spec.flag === undefined) return [];
    const type = spec.value.type;
    const kind =
      type === 'int'
        ? 'integer'
        : type === 'bool'
          ? 'boolean'
          : type === 'urls' || type === 'keyFiles'
            ? 'multiple'
            : 'string';
    const shown = spec.default === undefined ? spec.defaultText : showValue(key, spec.default);
    const defaultText = Array.isArray(shown) ? shown.join(', ') || undefined : shown?.toString();
    return [
      {
        flag: spec.flag,
        key,
        env: envName(key),
        kind,
        description: spec.doc,
        ...(spec.value.type === 'enum' ? { options: spec.value.values } : {}),
        ...(defaultText === undefined ? {} : { defaultText }),
      },
    ];
  }),
  // The agent's older spellings, kept working.
  {
    flag: 'no-http',
    key: 'http.enabled',
    env: envName('http.enabled'),
    kind: 'boolean',
    invert: true,
    description: 'Do not serve HTTP.',
  },
  {
    flag: 'no-announce',
    key: 'announce',
    env: envName('announce'),
    kind: 'boolean',
    invert: true,
    description: 'Do not announce to any tracker.',
  },
];

/** A value in the file's own terms, for people (check output, starter file): 256MiB, 5s, 127.0.0.1:7070. */
export function showValue(key: SettingKey, value: unknown): unknown {
  const type = (SETTINGS[key] as SettingSpec).value.type;
  if (type === 'size' && typeof value === 'number') return formatSize(value);
  if (type === 'duration' && typeof value === 'number') return formatDuration(value);
  if (type === 'keyFiles' && Array.isArray(value)) return (value as KeyFile[]).map((k) => `${k.id}=${k.file}`);
  if (type === 'listen' && typeof value === 'object' && value !== null) {
    const { host, port } = value as ListenAddress;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }
  return value;
}

/** Turns env or flag text into the value the schema checks; anything unreadable is left for it to reject. */
export function fromText(type: ValueType['type'], text: string): unknown {
  const trimmed = text.trim();
  const list = () =>
    trimmed
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  switch (type) {
    case 'int':
      return /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : text;
    case 'bool': {
      const lower = trimmed.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(lower)) return true;
      if (['false', '0', 'no', 'off'].includes(lower)) return false;
      return text;
    }
    case 'urls':
    case 'keyFiles':
      return list();
    case 'hosts': {
      const hosts = list();
      return hosts.length === 1 ? hosts[0] : hosts;
    }
    default:
      return text;
  }
}
