// The controller's settings: one table gives each its flag, environment variable, config file key, type,
// default and explanation. `edgepeer controller` resolves them as the agent does its own: embedded defaults
// < config file (--config, $EDGEPEER_CONTROLLER_CONFIG; YAML, keys as the flags are named) < environment <
// flags, and a value that is wrong is refused naming the key and where it came from.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, fromSystemError } from '../errors/index.ts';
import type { RegistrationOptions } from '../ims/index.ts';
import { type ControllerConfig, DEFAULT_CONTROLLER_CONFIG } from './controller-config.ts';
import { defaultDataDir } from './paths.ts';
import { redisStateOf } from './redis-state.ts';
import { statsUrlFromTrackers } from './resolve.ts';
import { type KeyFile, LOG_LEVELS, type LogLevel } from './settings.ts';
import { parseListenAddress, parseSize } from './units.ts';

export type ControllerSettingKind = 'integer' | 'boolean' | 'string' | 'strings';

export interface ControllerSetting {
  /** The flag (--NAME), and the config file key. */
  name: string;
  kind: ControllerSettingKind;
  default?: string | number | boolean;
  description: string;
  min?: number;
  max?: number;
  options?: readonly string[];
}

/** The controller's settings, in the order `--help` and docs/controller.md list them. */
export const CONTROLLER_SETTINGS: readonly ControllerSetting[] = [
  {
    name: 'data-dir',
    kind: 'string',
    description:
      "The controller's own state: enrolled edges and tokens (fleet.json), admin token, the discovery file. Default: beside the agent's data dir, edgepeer-controller.",
  },
  {
    name: 'log-level',
    kind: 'string',
    default: 'info',
    options: LOG_LEVELS,
    description: 'Level of the JSON logs on stderr.',
  },
  {
    name: 'peer-port',
    kind: 'integer',
    default: 6881,
    min: 0,
    max: 65535,
    description: 'Peer wire port of the controller, a peer holding the union of its edges (0: any free).',
  },
  { name: 'peer-host', kind: 'string', description: 'Peer wire address (default: dual stack).' },
  {
    name: 'http-port',
    kind: 'integer',
    default: 8080,
    min: 0,
    max: 65535,
    description: 'HTTP port of object and piece URLs, answered with redirects to edges.',
  },
  { name: 'http-host', kind: 'string', description: 'HTTP address (default: dual stack).' },
  { name: 'no-http', kind: 'boolean', default: false, description: 'No HTTP server.' },
  {
    name: 'public-url',
    kind: 'string',
    description: 'Base URL trackers hear as the CDN URI (default: the listening addresses).',
  },
  {
    name: 'token-key',
    kind: 'strings',
    description:
      'Key of signed URL tokens, ID=FILE (repeatable; comma-separated in the environment): object and piece URLs then need a valid token (403, 410 expired), a redirect carries a fresh 30 s token for the edge, and piece fetches from edges carry one. The edges need the same keys. Files read again on SIGHUP.',
  },
  {
    name: 'edge-listen',
    kind: 'string',
    default: '[::]:7000',
    description: 'HOST:PORT where edges enrol, send heartbeats and holdings, and take commands.',
  },
  {
    name: 'admin-listen',
    kind: 'string',
    default: '127.0.0.1:7071',
    description: 'HOST:PORT of the admin API (edges, token create, ingest/purge --controller, status, metrics).',
  },
  {
    name: 'heartbeat',
    kind: 'integer',
    default: 2000,
    min: 100,
    max: 60_000,
    description: 'Edge heartbeat period, ms; an edge silent for 3 periods is down and its pieces leave the union.',
  },
  {
    name: 'replicas',
    kind: 'integer',
    default: 2,
    min: 1,
    max: 100,
    description: 'Edges each ingested object is placed on.',
  },
  {
    name: 'cache-size',
    kind: 'string',
    default: '256MiB',
    description: 'Memory for verified pieces fetched from edges for peers, e.g. 256MiB.',
  },
  {
    name: 'tracker',
    kind: 'strings',
    description: 'Tracker announce URL (repeatable; comma-separated in the environment).',
  },
  { name: 'no-announce', kind: 'boolean', default: false, description: 'Do not announce to trackers.' },
  {
    name: 'no-dashboard',
    kind: 'boolean',
    default: false,
    description: 'Serve no operator dashboard at /dashboard on the admin API.',
  },
  {
    name: 'peer-auth-url',
    kind: 'string',
    description:
      "An edgepeer tracker's allow-list (http://tracker:6969/peer-auth/allowed): followed by long poll and relayed to the edges with peerAuth: tracker; the controller's own peer wire then serves piece bytes only to addresses on it (docs/auth.md). Needs peer-auth-token-file.",
  },
  {
    name: 'peer-auth-token-file',
    kind: 'string',
    description: "File holding the tracker's admin token, sent to read the allow-list.",
  },
  {
    name: 'ims-registrar',
    kind: 'string',
    description: "P-CSCF/registrar SIP URI: register the CDN's identity in IMS (edges do not register).",
  },
  { name: 'ims-impi', kind: 'string', description: 'IMS private identity of the CDN.' },
  { name: 'ims-impu', kind: 'string', description: 'IMS public identity (SIP URI) of the CDN.' },
  {
    name: 'ims-password-file',
    kind: 'string',
    description: 'File holding the digest password (else $EDGEPEER_IMS_PASSWORD).',
  },
  {
    name: 'ims-transport',
    kind: 'string',
    options: ['udp', 'tcp', 'tls'],
    description: 'SIP transport (default: from the registrar URI).',
  },
  {
    name: 'state',
    kind: 'string',
    default: 'memory',
    description:
      'Where the fleet state lives: memory (one controller), or redis://HOST:PORT (rediss:// for TLS) shared by several controllers, one of which registers and announces.',
  },
  {
    name: 'state-password-file',
    kind: 'string',
    description: 'File holding the Redis password (AUTH), when the URL has none.',
  },
  {
    name: 'state-tls-ca',
    kind: 'string',
    description: "PEM file of the CAs that sign Redis's TLS certificate (rediss://).",
  },
  {
    name: 'storage-control',
    kind: 'boolean',
    default: false,
    description:
      "Network Storage Control in the controller (TR 23.844 6.2.2, docs/controller.md): follow the tracker's swarm statistics of the objects the fleet knows, place pieces the swarm lacks on an edge (fetched from the origin) and purge pieces that became plentiful from the edges. Runs on the leader.",
  },
  {
    name: 'storage-control-stats-url',
    kind: 'string',
    description:
      "Swarm statistics to follow (edgepeer tracker's /stats). Default: the first http(s) tracker, /announce replaced by /stats.",
  },
  {
    name: 'storage-control-scrape-url',
    kind: 'string',
    description:
      'Follow swarms by scraping this tracker (BEP 48: seeds and leechers, no pieces) instead of storage-control-stats-url, for trackers that have nothing more; no invitations, placement by load alone.',
  },
  {
    name: 'storage-control-scrape-interval',
    kind: 'integer',
    default: 30_000,
    min: 1000,
    max: 3_600_000,
    description: "Time between scrapes (ms), longer if the tracker's min_request_interval says so.",
  },
  {
    name: 'storage-control-objects',
    kind: 'string',
    default: 'all',
    description: 'Which objects it controls: all the fleet knows, or info hashes separated by commas.',
  },
  {
    name: 'storage-control-low-copies',
    kind: 'integer',
    default: 2,
    min: 1,
    max: 1_000_000,
    description: 'Ingest a piece leechers want when fewer copies than this are outside the CDN.',
  },
  {
    name: 'storage-control-high-copies',
    kind: 'integer',
    default: 4,
    min: 2,
    max: 1_000_000,
    description:
      'Purge a held piece once this many copies or more stay outside the CDN for the hold time (above the low mark).',
  },
  {
    name: 'storage-control-demand-per-copy',
    kind: 'integer',
    default: 0,
    min: 0,
    max: 1_000_000,
    description: 'Also ingest a piece when leechers per copy outside the CDN reach this; 0: off.',
  },
  {
    name: 'storage-control-copies-per-leecher',
    kind: 'integer',
    default: 0,
    min: 0,
    max: 1_000_000,
    description:
      'Copies outside the CDN each leecher needs for its full rate: ingest and keep pieces while fewer than leechers x this; 0: off.',
  },
  {
    name: 'storage-control-hold',
    kind: 'integer',
    default: 60_000,
    min: 0,
    max: 7 * 86_400_000,
    description: 'How long copies must stay at or above the high mark before a purge, ms.',
  },
  {
    name: 'storage-control-ttl',
    kind: 'integer',
    default: 0,
    min: 0,
    max: 366 * 86_400_000,
    description: 'Pieces it placed are purged this long after, ms, unless still below the low mark; 0: no TTL.',
  },
  {
    name: 'storage-control-budget',
    kind: 'string',
    default: '10GiB',
    description: 'Bytes of pieces it may hold across the edges (the union of the objects it controls), e.g. 10GiB.',
  },
  {
    name: 'storage-control-ingest-rate',
    kind: 'string',
    default: '0',
    description: 'Average ingest bandwidth from origins, bytes per second (e.g. 50MiB; bursts of 10 s); 0: unlimited.',
  },
  {
    name: 'storage-control-ops-per-minute',
    kind: 'integer',
    default: 60,
    min: 1,
    max: 1_000_000,
    description: 'Ingest and purge operations per minute (one: the pieces of one object in one round).',
  },
  {
    name: 'storage-control-stale',
    kind: 'integer',
    default: 120_000,
    min: 1000,
    max: 86_400_000,
    description: 'Statistics older than this (ms) are stale: decisions are held (nothing placed or purged).',
  },
  {
    name: 'storage-control-interval',
    kind: 'integer',
    default: 5000,
    min: 100,
    max: 3_600_000,
    description: 'Time between decision rounds, ms (a change in the statistics also starts one).',
  },
  {
    name: 'storage-control-catalogue',
    kind: 'string',
    description:
      "Follow the tracker's invitations (GET /invitations beside the statistics URL) and join the swarms it invites to, with the .torrent named <info hash>.torrent in this folder or http(s) URL; its url-list names the origin, and the pieces the swarm lacks are placed on an edge. Unset: invitations are not followed.",
  },
  {
    name: 'storage-control-top-up-rate',
    kind: 'string',
    default: '0',
    description:
      "Top-up of the controller's peer wire: a leecher gets at most this rate (bytes/s, e.g. 1.8MiB) less what its other peers give it; 0: off (docs/policy.md, Top-up).",
  },
  {
    name: 'alto-network-map',
    kind: 'string',
    description:
      'ALTO network map (RFC 7285 application/alto-networkmap+json) or coverage zone file, as a file (reloaded when it changes and on SIGHUP) or an http(s) URL of an ALTO server: redirects go to the holder nearest to the client, piece fetches to the holder nearest to alto-home-address (docs/topology.md).',
  },
  {
    name: 'alto-cost-map',
    kind: 'string',
    description:
      'ALTO cost map (application/alto-costmap+json, routingcost) as a file or URL. Without it: same PID first, every other PID alike.',
  },
  {
    name: 'alto-refresh',
    kind: 'integer',
    default: 300,
    min: 1,
    max: 86_400,
    description: 'Seconds between fetches of maps from an ALTO server (If-None-Match: an unchanged map costs a 304).',
  },
  {
    name: 'alto-home-address',
    kind: 'string',
    description:
      "The controller's own address as the network map knows it: pieces for peers are fetched from the holder nearest to it (unset: by load and affinity only).",
  },
  {
    name: 'alto-placement',
    kind: 'string',
    default: 'demand',
    description:
      "Where storage control places the pieces it ingests with a network map: demand (an edge in, or nearest by cost to, the PID whose leechers lack a local seed most, from the tracker's statistics by PID) or load (by room, load and affinity only, as without maps).",
  },
  {
    name: 'shutdown-grace',
    kind: 'integer',
    default: 5000,
    min: 0,
    max: 600_000,
    description: 'Time given to transfers in flight at shutdown, ms.',
  },
];

/** EDGEPEER_CONTROLLER_PEER_PORT for peer-port. */
export function controllerEnvName(name: string): string {
  return `EDGEPEER_CONTROLLER_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** The controller's config file variable (besides --config). */
export const CONTROLLER_CONFIG_ENV = 'EDGEPEER_CONTROLLER_CONFIG';

type Values = Record<string, string | number | boolean | string[] | undefined>;

/** The controller's data dir when none is given: beside the agent's, named edgepeer-controller. */
export function defaultControllerDataDir(): string {
  return join(dirname(defaultDataDir()), 'edgepeer-controller');
}

/**
 * The controller's configuration from `given` (flags and environment as oclif parsed them: only what was
 * set) over the config file over the defaults. ConfigError names the key and where a wrong value came from.
 */
export async function resolveControllerConfig(
  given: Values,
  options: { configPath?: string; env?: NodeJS.ProcessEnv; readFiles?: boolean } = {},
): Promise<{ config: ControllerConfig; logLevel: LogLevel; file: string | null }> {
  const env = options.env ?? process.env;
  const file = options.configPath ?? env[CONTROLLER_CONFIG_ENV] ?? null;
  const fromFile = file === null ? {} : await readControllerFile(resolve(file));
  const values: Values = {};
  for (const setting of CONTROLLER_SETTINGS) {
    values[setting.name] = given[setting.name] ?? fromFile[setting.name] ?? setting.default;
  }
  const where = (name: string) =>
    given[name] !== undefined
      ? `--${name} or ${controllerEnvName(name)}`
      : fromFile[name] !== undefined
        ? `${file}`
        : 'default';
  const text = (name: string) => values[name] as string | undefined;
  const edges = listenAddress(text('edge-listen') as string, 'edge-listen', where('edge-listen'));
  const admin = listenAddress(text('admin-listen') as string, 'admin-listen', where('admin-listen'));
  let cacheBytes: number;
  try {
    cacheBytes = parseSize(text('cache-size') as string, 'cache-size');
  } catch (err) {
    throw new ConfigError(`cache-size (${where('cache-size')}): ${(err as Error).message}`, { subject: 'cache-size' });
  }
  const http = values['no-http']
    ? null
    : {
        port: values['http-port'] as number,
        corsOrigin: '*',
        ...(text('http-host') === undefined ? {} : { host: text('http-host') as string }),
        ...(text('public-url') === undefined ? {} : { publicUrl: text('public-url') as string }),
        ...tokenKeysOf(values['token-key'] as string[] | undefined, where('token-key'), file),
      };
  const config: ControllerConfig = {
    ...DEFAULT_CONTROLLER_CONFIG,
    dataDir: resolve(text('data-dir') ?? defaultControllerDataDir()),
    peer: {
      port: values['peer-port'] as number,
      mse: 'rc4',
      ...(text('peer-host') === undefined ? {} : { host: text('peer-host') as string }),
    },
    http,
    edges: {
      host: edges.host,
      port: edges.port,
      heartbeatMs: values.heartbeat as number,
      replicas: values.replicas as number,
    },
    admin: { host: admin.host, port: admin.port, dashboard: !values['no-dashboard'] },
    cacheBytes,
    trackers: (values.tracker as string[] | undefined) ?? [],
    announce: !values['no-announce'],
    ims: await imsOptions(values, env, where, options.readFiles !== false),
    shutdownGraceMs: values['shutdown-grace'] as number,
    state: await stateOptions(values, where, options.readFiles !== false),
    storageControl: storageControlOf(values, where),
    topology: topologyOptions(values, where),
    peerAuth: peerAuthOf(values, where),
  };
  return { config, logLevel: text('log-level') as LogLevel, file: file === null ? null : resolve(file) };
}

/** The config file: a YAML mapping of setting names to values, each checked against its kind. */
async function readControllerFile(file: string): Promise<Values> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`controller config file ${file}: ${fromSystemError(err, file).message}`, { subject: file });
  }
  const { parse } = await import('yaml');
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`, { subject: file });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${file} must be a mapping of setting names to values`, { subject: file });
  }
  const values: Values = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    const setting = CONTROLLER_SETTINGS.find((s) => s.name === name);
    if (setting === undefined) {
      throw new ConfigError(
        `${file}: unknown setting ${name} (settings: ${CONTROLLER_SETTINGS.map((s) => s.name).join(', ')})`,
        { subject: name },
      );
    }
    values[name] = checkedValue(setting, value, `${name} in ${file}`);
  }
  // Paths in the file are taken from its folder.
  for (const name of ['data-dir', 'ims-password-file', 'state-password-file', 'state-tls-ca', 'peer-auth-token-file']) {
    if (typeof values[name] === 'string') values[name] = resolve(dirname(file), values[name] as string);
  }
  return values;
}

function checkedValue(setting: ControllerSetting, value: unknown, where: string): Values[string] {
  const wrong = (what: string) =>
    new ConfigError(`${where}: must be ${what}, got ${JSON.stringify(value)}`, { subject: setting.name });
  switch (setting.kind) {
    case 'integer':
      if (
        !Number.isInteger(value) ||
        (value as number) < (setting.min ?? 0) ||
        (value as number) > (setting.max ?? Number.MAX_SAFE_INTEGER)
      ) {
        throw wrong(`an integer from ${setting.min ?? 0} to ${setting.max}`);
      }
      return value as number;
    case 'boolean':
      if (typeof value !== 'boolean') throw wrong('true or false');
      return value;
    case 'strings': {
      const list = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(list) || !list.every((item) => typeof item === 'string' && item !== '')) {
        throw wrong('a list of text values');
      }
      return list as string[];
    }
    default:
      if (typeof value !== 'string' || value === '') throw wrong('text');
      if (setting.options !== undefined && !setting.options.includes(value))
        throw wrong(`one of ${setting.options.join(', ')}`);
      return value;
  }
}

/** HOST:PORT or [v6]:PORT. */
function listenAddress(value: string, name: string, where: string): { host: string; port: number } {
  const address = parseListenAddress(value.trim());
  if (address === null) {
    throw new ConfigError(`${name} (${where}): "${value}" is not HOST:PORT (e.g. 0.0.0.0:7000 or [::]:7000)`, {
      subject: name,
    });
  }
  return address;
}

async function imsOptions(
  values: Values,
  env: NodeJS.ProcessEnv,
  where: (name: string) => string,
  readFiles: boolean,
): Promise<RegistrationOptions | null> {
  const registrar = values['ims-registrar'] as string | undefined;
  if (registrar === undefined) return null;
  for (const name of ['ims-impi', 'ims-impu']) {
    if (values[name] === undefined)
      throw new ConfigError(`ims-registrar (${where('ims-registrar')}) needs ${name} too`, { subject: name });
  }
  const passwordFile = values['ims-password-file'] as string | undefined;
  let password = env.EDGEPEER_IMS_PASSWORD;
  // Service install: the password file may not exist yet, and the unit needs no password.
  if (!readFiles) password ??= '(not read)';
  if (passwordFile !== undefined && readFiles) {
    try {
      password = (await readFile(passwordFile, 'utf8')).trim();
    } catch (err) {
      throw new ConfigError(
        `ims-password-file (${where('ims-password-file')}): ${fromSystemError(err, passwordFile).message}`,
        {
          subject: 'ims-password-file',
        },
      );
    }
  }
  if (!password) {
    throw new ConfigError('IMS registration needs a password: ims-password-file or EDGEPEER_IMS_PASSWORD', {
      subject: 'ims-password-file',
    });
  }
  return {
    registrar,
    impi: values['ims-impi'] as string,
    impu: values['ims-impu'] as string,
    password,
    ...(values['ims-transport'] === undefined ? {} : { transport: values['ims-transport'] as 'udp' | 'tcp' | 'tls' }),
  };
}

/** peer-auth-url and its token file (both or neither), or null: no allow-list relayed. */
function peerAuthOf(values: Values, where: (name: string) => string): ControllerConfig['peerAuth'] {
  const url = values['peer-auth-url'] as string | undefined;
  const tokenFile = values['peer-auth-token-file'] as string | undefined;
  if (url === undefined && tokenFile === undefined) return null;
  if (url === undefined || tokenFile === undefined) {
    const [given, missing] =
      url === undefined ? ['peer-auth-token-file', 'peer-auth-url'] : ['peer-auth-url', 'peer-auth-token-file'];
    throw new ConfigError(`${given} (${where(given)}) needs ${missing} too`, { subject: missing });
  }
  if (!/^https?:\/\/[^/\s]+/i.test(url)) {
    throw new ConfigError(`peer-auth-url (${where('peer-auth-url')}): "${url}" is not an http(s) URL`, {
      subject: 'peer-auth-url',
    });
  }
  return { url, tokenFile: resolve(tokenFile) };
}

/** The storage-control-* settings, or null when it is off; ConfigError names the setting that is wrong. */
function storageControlOf(values: Values, where: (name: string) => string): ControllerConfig['storageControl'] {
  if (values['storage-control'] !== true) return null;
  const size = (name: string): number => {
    try {
      return parseSize(values[name] as string, name);
    } catch (err) {
      throw new ConfigError(`${name} (${where(name)}): ${(err as Error).message}`, { subject: name });
    }
  };
  const low = values['storage-control-low-copies'] as number;
  const high = values['storage-control-high-copies'] as number;
  if (high <= low) {
    throw new ConfigError(
      `storage-control-high-copies (${high}, ${where('storage-control-high-copies')}) must be above storage-control-low-copies (${low}): the gap between them is the hysteresis`,
      { subject: 'storage-control-high-copies' },
    );
  }
  const trackers = (values.tracker as string[] | undefined) ?? [];
  const scrapeUrl = values['storage-control-scrape-url'] as string | undefined;
  const scrape = scrapeUrl === undefined ? null : scrapeOf(values, scrapeUrl);
  const statsUrl =
    (values['storage-control-stats-url'] as string | undefined) ??
    statsUrlFromTrackers(trackers) ??
    (scrape ? '' : null);
  if (statsUrl === null || (scrape === null && !/^https?:\/\//i.test(statsUrl))) {
    throw new ConfigError(
      'storage-control needs the statistics of an edgepeer tracker: storage-control-stats-url, or an http(s) tracker ending in /announce',
      { subject: 'storage-control-stats-url' },
    );
  }
  const objects = (values['storage-control-objects'] as string).trim();
  if (!/^(all|[0-9a-fA-F]{40}(\s*,\s*[0-9a-fA-F]{40})*)$/.test(objects)) {
    throw new ConfigError(
      `storage-control-objects (${where('storage-control-objects')}): all, or info hashes (40 hex) separated by commas`,
      { subject: 'storage-control-objects' },
    );
  }
  return {
    settings: {
      lowCopies: low,
      highCopies: high,
      demandPerCopy: values['storage-control-demand-per-copy'] as number,
      copiesPerLeecher: values['storage-control-copies-per-leecher'] as number,
      // The controller places pieces; pacing is each agent's (storageControl.paceSeedsPerLeecher).
      paceSeedsPerLeecher: 0,
      holdMs: values['storage-control-hold'] as number,
      ttlMs: values['storage-control-ttl'] as number,
      budgetBytes: size('storage-control-budget'),
      ingestBytesPerSecond: size('storage-control-ingest-rate'),
      opsPerMinute: values['storage-control-ops-per-minute'] as number,
      staleMs: values['storage-control-stale'] as number,
      // Edges have no place to set pieces aside for the controller: a plentiful piece is purged.
      setAside: false,
    },
    statsUrl,
    scrape,
    objects: objects === 'all' ? null : objects.split(',').map((hash) => hash.trim().toLowerCase()),
    intervalMs: values['storage-control-interval'] as number,
    topUpBytesPerSecond: size('storage-control-top-up-rate'),
    catalogue: (values['storage-control-catalogue'] as string | undefined) ?? null,
  };
}

/** storage-control-scrape-url: an http(s) URL, with no invitations and an interval below the staleness. */
function scrapeOf(values: Values, url: string): { url: string; intervalMs: number } {
  if (!/^https?:\/\//i.test(url)) {
    throw new ConfigError(`storage-control-scrape-url must be an http(s) URL of a tracker's scrape, got ${url}`, {
      subject: 'storage-control-scrape-url',
    });
  }
  if (values['storage-control-stats-url'] !== undefined) {
    throw new ConfigError(
      'statistics come from one place: storage-control-stats-url (an edgepeer tracker) or storage-control-scrape-url (any tracker), not both',
      { subject: 'storage-control-scrape-url' },
    );
  }
  if (values['storage-control-catalogue'] !== undefined) {
    throw new ConfigError(
      "storage-control-catalogue: invitations come from an edgepeer tracker's statistics, not from a scrape (storage-control-scrape-url)",
      { subject: 'storage-control-catalogue' },
    );
  }
  const intervalMs = values['storage-control-scrape-interval'] as number;
  if (intervalMs >= (values['storage-control-stale'] as number)) {
    throw new ConfigError(
      `storage-control-scrape-interval (${intervalMs} ms) must be below storage-control-stale (${values['storage-control-stale']} ms)`,
      { subject: 'storage-control-scrape-interval' },
    );
  }
  return { url, intervalMs };
}

/** `state`: memory (null), or a Redis URL with its password and CAs read from their files. */
async function stateOptions(
  values: Values,
  where: (name: string) => string,
  readFiles: boolean,
): Promise<ControllerConfig['state']> {
  const redis = await redisStateOf(
    {
      state: values.state as string,
      passwordFile: values['state-password-file'] as string | undefined,
      tlsCaFile: values['state-tls-ca'] as string | undefined,
    },
    where,
    readFiles,
  );
  return redis === null ? null : { redis };
}

/** The ALTO settings, or null without a network map (a cost map alone is refused: it needs PIDs). */
function topologyOptions(values: Values, where: (name: string) => string): ControllerConfig['topology'] {
  const networkMap = values['alto-network-map'] as string | undefined;
  const costMap = values['alto-cost-map'] as string | undefined;
  const homeAddress = values['alto-home-address'] as string | undefined;
  if (networkMap === undefined) {
    if (costMap !== undefined) {
      throw new ConfigError(`alto-cost-map (${where('alto-cost-map')}) needs alto-network-map too`, {
        subject: 'alto-network-map',
      });
    }
    return null;
  }
  const placement = values['alto-placement'] as string;
  if (placement !== 'demand' && placement !== 'load') {
    throw new ConfigError(
      `alto-placement (${where('alto-placement')}): "${placement}" is neither "demand" nor "load"`,
      { subject: 'alto-placement' },
    );
  }
  if (homeAddress !== undefined && isIP(homeAddress) === 0) {
    throw new ConfigError(`alto-home-address (${where('alto-home-address')}): "${homeAddress}" is not an IP address`, {
      subject: 'alto-home-address',
    });
  }
  return {
    networkMap,
    refreshS: values['alto-refresh'] as number,
    placement,
    ...(costMap === undefined ? {} : { costMap }),
    ...(homeAddress === undefined ? {} : { homeAddress }),
  };
}

const KEY_FILE = /^([A-Za-z0-9._-]{1,64})=(\S.*)$/;

/** `token-key` values as named key files (paths from the config file's folder, or the working directory). */
function tokenKeysOf(values: string[] | undefined, where: string, file: string | null): { tokenKeys?: KeyFile[] } {
  if (values === undefined || values.length === 0) return {};
  const base = file !== null && where === file ? dirname(resolve(file)) : process.cwd();
  const keys = values.map((text) => {
    const match = KEY_FILE.exec(text.trim());
    if (match === null) {
      throw new ConfigError(`token-key (${where}): "${text}" must be ID=FILE`, { subject: 'token-key' });
    }
    return { id: match[1] as string, file: resolve(base, match[2] as string) };
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length) {
    throw new ConfigError(`token-key (${where}): a key id is given twice`, { subject: 'token-key' });
  }
  return { tokenKeys: keys };
}
