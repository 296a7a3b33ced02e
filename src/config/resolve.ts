// Resolving the agent's configuration: embedded defaults < config file < environment < flags.
// Each layer is checked on its own (so a problem names the file line, variable or flag it came from), then
// merged key by key, then checked as a whole (keys that only make sense together), then turned into the
// AgentConfig the agent runs with.
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fromSystemError } from '../errors/index.ts';
import { type QosSettings, resolveQos } from '../qos/index.ts';
import { parseScrubWindow } from '../store/index.ts';
// Types only: erased at run time, so src/config keeps no run-time dependency on the folders above it.
import type { AgentConfig } from './agent-config.ts';
import { type Layer, readConfigFile } from './file.ts';
import {
  type ConfigIssue,
  type ConfigSource,
  closest,
  configError,
  describeOrigin,
  type Origin,
  showInput,
} from './issues.ts';
import { defaultDataDir, type LocateOptions, locateConfigFile, resolvePaths } from './paths.ts';
import { KEY_SCHEMAS } from './schema.ts';
import {
  AGENT_FLAGS,
  EXTRA_ENV,
  envName,
  fromText,
  type LogLevel,
  SETTING_KEYS,
  SETTINGS,
  type SettingKey,
  type SettingSpec,
  type SettingValue,
  showValue,
} from './settings.ts';
import { readCaFile, readCertificatePair } from './tls-files.ts';

/** What `edgepeer agent` runs with: the agent's own configuration plus what the command itself uses. */
export interface EdgepeerConfig extends AgentConfig {
  logLevel: LogLevel;
}

export interface ResolveOptions extends Omit<LocateOptions, 'env'> {
  /** Only the flags the user actually gave, by flag name (oclif's parsed flags with undefined for unset). */
  flags?: Readonly<Record<string, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** Relative paths from env and flags are taken from here; default process.cwd(). */
  cwd?: string;
  /**
   * Read the files settings name: the IMS password and CA certificates (default true); false leaves them
   * unset (service install, which may run before they exist).
   */
  readFiles?: boolean;
}

export interface EffectiveSetting {
  key: string;
  /** In the file's own terms (256MiB, 5s); secrets as "(set)". */
  value: unknown;
  source: ConfigSource;
  /** "in FILE line N", "from EDGEPEER_X", "from --flag", "(default)". */
  origin: string;
}

export interface ResolvedConfig {
  config: EdgepeerConfig;
  /** Where each key's value came from, by key path (peer.port, ims.password, ...). */
  sources: Record<string, ConfigSource>;
  /** The config file read, or null. */
  file: string | null;
  /** Every key in table order with its effective value and origin (for `config check`). */
  settings: EffectiveSetting[];
  /** Not errors, worth telling: unknown EDGEPEER_* variables, a password file others can read. */
  warnings: string[];
}

/**
 * The configuration `edgepeer agent` runs with. Throws ConfigError (EDGEPEER_CONFIG_INVALID, exit 6) listing
 * every problem, each naming its key, the value and where it came from.
 */
export async function resolveAgentConfig(options: ResolveOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { file } = locateConfigFile({ ...options, env });

  const fileLayer = file === null ? { layer: new Map() as Layer, issues: [] } : await readConfigFile(file);
  const envLayer = textLayer(env, cwd);
  const flagLayer = flagsLayer(options.flags ?? {}, cwd);
  const issues = [...fileLayer.issues, ...envLayer.issues, ...flagLayer.issues];
  if (issues.length > 0) throw configError(issues, file);

  const merged = defaultsLayer(env, cwd);
  const sources: Record<string, ConfigSource> = {};
  for (const layer of [fileLayer.layer, envLayer.layer, flagLayer.layer]) {
    for (const [key, entry] of layer) merged.set(key, entry);
  }
  const dataDir = merged.get('dataDir')?.value as string;
  if (!merged.has('admin.tokenFile')) {
    merged.set('admin.tokenFile', { value: join(dataDir, 'admin.token'), origin: { kind: 'default' } });
  }
  for (const [key, entry] of merged) sources[key] = entry.origin.kind;

  const crossIssues = checkTogether(merged);
  if (crossIssues.length > 0) throw configError(crossIssues, file);

  const warnings = unknownEnvWarnings(env);
  const secrets: ImsSecrets =
    options.readFiles === false ? { passwordFrom: '' } : await imsSecrets(merged, env, warnings, file);
  const tlsCa = options.readFiles === false ? undefined : await imsTlsCa(merged, file);
  const https = options.readFiles === false ? undefined : await httpsCertificate(merged, file);
  const config = toAgentConfig(merged, secrets, tlsCa, https);
  if (secrets.passwordSource) sources['ims.password'] = secrets.passwordSource;
  if (secrets.aka) sources['ims.aka'] = 'env';

  const settings: EffectiveSetting[] = SETTING_KEYS.filter((key) => merged.has(key)).map((key) => {
    const entry = merged.get(key) as { value: unknown; origin: Origin };
    return { key, value: showValue(key, entry.value), source: entry.origin.kind, origin: describeOrigin(entry.origin) };
  });
  if (secrets.passwordSource) {
    settings.push({
      key: 'ims.password',
      value: '(set)',
      source: secrets.passwordSource,
      origin: secrets.passwordFrom,
    });
  }
  if (secrets.aka) settings.push({ key: 'ims.aka', value: '(set)', source: 'env', origin: `from ${EXTRA_ENV.akaK}` });
  return { config, sources, file, settings, warnings };
}

function defaultsLayer(env: NodeJS.ProcessEnv, cwd: string): Layer {
  const layer: Layer = new Map();
  const origin: Origin = { kind: 'default' };
  for (const key of SETTING_KEYS) {
    const spec: SettingSpec = SETTINGS[key];
    if (spec.default !== undefined) layer.set(key, { value: structuredClone(spec.default), origin });
  }
  // Without EDGEPEER_DATA_DIR (that is the env layer's), so the default is the embedded one.
  const { EDGEPEER_DATA_DIR: _, ...rest } = env;
  layer.set('dataDir', { value: resolve(cwd, defaultDataDir(rest)), origin });
  return layer;
}

/** Checks one value from text or a flag against its key's schema. */
function check(key: SettingKey, raw: unknown, origin: Origin, cwd: string, layer: Layer, issues: ConfigIssue[]) {
  const spec: SettingSpec = SETTINGS[key];
  const result = KEY_SCHEMAS[key].safeParse(raw, { reportInput: true });
  if (!result.success) {
    const issue = result.error.issues[0];
    const got = showInput(raw);
    issues.push({
      key,
      problem: issue?.message ?? 'is not valid',
      ...(got === undefined ? {} : { got }),
      origin,
    });
    return;
  }
  const value = spec.isPath ? resolvePaths(result.data, cwd) : result.data;
  layer.set(key, { value, origin });
}

function textLayer(env: NodeJS.ProcessEnv, cwd: string): { layer: Layer; issues: ConfigIssue[] } {
  const layer: Layer = new Map();
  const issues: ConfigIssue[] = [];
  for (const key of SETTING_KEYS) {
    const name = envName(key);
    const text = env[name];
    // Empty counts as unset, as in systemd EnvironmentFile= and `VAR= cmd`.
    if (text === undefined || text.trim() === '') continue;
    const spec: SettingSpec = SETTINGS[key];
    check(key, fromText(spec.value.type, text), { kind: 'env', name }, cwd, layer, issues);
  }
  return { layer, issues };
}

function flagsLayer(flags: Readonly<Record<string, unknown>>, cwd: string): { layer: Layer; issues: ConfigIssue[] } {
  const layer: Layer = new Map();
  const issues: ConfigIssue[] = [];
  for (const flag of AGENT_FLAGS) {
    let raw = flags[flag.flag];
    if (raw === undefined || raw === null) continue;
    if (Array.isArray(raw) && raw.length === 0) continue;
    if (flag.invert) {
      // `--no-http` given: false; not given (an oclif boolean's false): leave the key to the layers below.
      if (raw !== true) continue;
      raw = false;
    }
    const spec: SettingSpec = SETTINGS[flag.key];
    if (typeof raw === 'string') raw = fromText(spec.value.type, raw);
    if (flag.kind === 'multiple' && Array.isArray(raw)) {
      raw = raw.flatMap((item) => (typeof item === 'string' ? (fromText('urls', item) as string[]) : [item]));
    }
    check(flag.key, raw, { kind: 'flag', name: flag.flag }, cwd, layer, issues);
  }
  return { layer, issues };
}

function get<K extends SettingKey>(layer: Layer, key: K): SettingValue<K> | undefined {
  return layer.get(key)?.value as SettingValue<K> | undefined;
}

function originOf(layer: Layer, key: SettingKey): Origin {
  return layer.get(key)?.origin ?? { kind: 'default' };
}

/** Rules across keys. */
function checkTogether(merged: Layer): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const keepAlive = get(merged, 'peer.limits.keepAliveIntervalMs') as number;
  const idle = get(merged, 'peer.limits.idleTimeoutMs') as number;
  if (keepAlive >= idle) {
    const key =
      merged.get('peer.limits.keepAliveIntervalMs')?.origin.kind === 'default'
        ? 'idleTimeoutMs'
        : 'keepAliveIntervalMs';
    issues.push({
      key: `peer.limits.${key}`,
      problem: `peer.limits.keepAliveIntervalMs (${keepAlive} ms) must be below peer.limits.idleTimeoutMs (${idle} ms)`,
      origin: originOf(merged, `peer.limits.${key}`),
    });
  }
  const scrubWindow = get(merged, 'scrub.window');
  if (scrubWindow !== undefined) {
    try {
      parseScrubWindow(scrubWindow as string);
    } catch (err) {
      issues.push({ key: 'scrub.window', problem: (err as Error).message, origin: originOf(merged, 'scrub.window') });
    }
  }
  try {
    qosOf(merged);
  } catch (err) {
    const key = ((err as { details?: { subject?: string } }).details?.subject ?? 'rate') as string;
    const settingKey = (`qos.${key}` in SETTINGS ? `qos.${key}` : 'qos.classes') as SettingKey;
    issues.push({ key: settingKey, problem: (err as Error).message, origin: originOf(merged, settingKey) });
  }
  if (get(merged, 'storageControl.enabled') === true) {
    const low = get(merged, 'storageControl.lowCopies') as number;
    const high = get(merged, 'storageControl.highCopies') as number;
    if (high <= low) {
      issues.push({
        key: 'storageControl.highCopies',
        problem: `storageControl.highCopies (${high}) must be above storageControl.lowCopies (${low}): the gap between them is the hysteresis`,
        origin: originOf(merged, 'storageControl.highCopies'),
      });
    }
    const scraping = merged.has('storageControl.scrapeUrl');
    if (scraping && merged.has('storageControl.statsUrl')) {
      issues.push({
        key: 'storageControl.scrapeUrl',
        problem:
          'statistics come from one place: set storageControl.statsUrl (an edgepeer tracker) or storageControl.scrapeUrl (any tracker), not both',
        origin: originOf(merged, 'storageControl.scrapeUrl'),
      });
    }
    if (scraping && merged.has('storageControl.catalogue')) {
      issues.push({
        key: 'storageControl.catalogue',
        problem:
          "invitations come from an edgepeer tracker's statistics (statsUrl), not from a scrape: unset storageControl.scrapeUrl or storageControl.catalogue",
        origin: originOf(merged, 'storageControl.catalogue'),
      });
    }
    const scrapeEvery = get(merged, 'storageControl.scrapeInterval') as number;
    if (scraping && scrapeEvery >= (get(merged, 'storageControl.stale') as number)) {
      issues.push({
        key: 'storageControl.scrapeInterval',
        problem: `storageControl.scrapeInterval (${scrapeEvery} ms) must be below storageControl.stale (${get(merged, 'storageControl.stale')} ms), or every scrape would be stale before the next`,
        origin: originOf(merged, 'storageControl.scrapeInterval'),
      });
    }
    if (
      !scraping &&
      !merged.has('storageControl.statsUrl') &&
      statsUrlFromTrackers(get(merged, 'trackers') as string[]) === null
    ) {
      issues.push({
        key: 'storageControl.statsUrl',
        problem: 'is required for storage control when no http(s) tracker ending in /announce is in trackers',
        origin: originOf(merged, 'storageControl.enabled'),
      });
    }
  }
  // An edge of a controller with neither key follows the controller's relay of the allow-list.
  const relayed = merged.has('controller.url') && !merged.has('peerAuthUrl') && !merged.has('peerAuthTokenFile');
  if (get(merged, 'peerAuth') === 'tracker' && !relayed) {
    for (const key of ['peerAuthUrl', 'peerAuthTokenFile'] as const) {
      if (merged.has(key)) continue;
      issues.push({
        key,
        problem: "is required with peerAuth: tracker (the tracker's allow-list and its admin token)",
        origin: originOf(merged, 'peerAuth'),
      });
    }
  }
  // IMS registration is on when any identity key is set; then all three are needed.
  const imsKeys = ['ims.registrar', 'ims.impi', 'ims.impu'] as const;
  const given = imsKeys.filter((k) => merged.has(k));
  if (given.length > 0) {
    for (const key of imsKeys) {
      if (merged.has(key)) continue;
      issues.push({
        key,
        problem: `is required for IMS registration (${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} set)`,
        origin: originOf(merged, given[0] as SettingKey),
      });
    }
  }
  // HTTPS serves with the HTTP server's settings, from a certificate and its key.
  if (merged.has('https.port')) {
    for (const key of ['https.certFile', 'https.keyFile'] as const) {
      if (!merged.has(key)) {
        issues.push({
          key,
          problem: 'is required for HTTPS (https.port is set)',
          origin: originOf(merged, 'https.port'),
        });
      }
    }
    if (get(merged, 'http.enabled') === false) {
      issues.push({
        key: 'https.port',
        problem: 'needs http.enabled: HTTPS serves with the HTTP settings',
        origin: originOf(merged, 'https.port'),
      });
    }
  }
  // Serving threads share the slab, the counters and the store's state; these are the agent's thread's alone.
  const agentThreadOnly = (): [SettingKey, string][] => {
    const alone: [SettingKey, string][] = [['accounting.dir', 'accounting records']];
    for (const key of SETTING_KEYS) if (key.startsWith('qos.')) alone.push([key, 'egress limits']);
    // Top-up paces bodies and blocks by the peer wire's view of each client, which only the agent's thread has.
    if (((get(merged, 'storageControl.topUpRate') as number | undefined) ?? 0) > 0) {
      alone.push(['storageControl.topUpRate', 'top-up']);
    }
    return alone;
  };
  const refuseBesideThreads = (threadsKey: SettingKey, threads: string, alone: [SettingKey, string][]): void => {
    if (((get(merged, threadsKey) as number | undefined) ?? 1) <= 1) return;
    for (const [key, what] of alone) {
      if (!merged.has(key) || originOf(merged, key).kind === 'default') continue;
      issues.push({
        key: threadsKey,
        problem: `more than 1 ${threads} thread cannot go with ${what} (${key}) yet: set one or the other`,
        origin: originOf(merged, threadsKey),
      });
    }
  };
  const httpAlone: [SettingKey, string][] = [
    ['http.accessLog', 'an access log'],
    ['http.tokenKeys', 'signed URL tokens'],
    ...agentThreadOnly(),
  ];
  if (get(merged, 'http.policy') === 'pull-through') httpAlone.unshift(['http.policy', 'http.policy pull-through']);
  refuseBesideThreads('http.threads', 'serving', httpAlone);
  const wireAlone = agentThreadOnly();
  if (get(merged, 'peerAuth') === 'tracker') wireAlone.unshift(['peerAuth', 'the peer allow-list (peerAuth tracker)']);
  refuseBesideThreads('peer.threads', 'peer wire', wireAlone);
  return issues;
}

interface ImsSecrets {
  password?: string;
  passwordSource?: ConfigSource;
  passwordFrom: string;
  aka?: { k: string; op?: string; opc?: string };
}

const LAYER_RANK: Record<ConfigSource, number> = { default: 0, file: 1, env: 2, flag: 3 };

/**
 * The IMS password: from ims.passwordFile or EDGEPEER_IMS_PASSWORD, whichever comes from the higher layer (the
 * file on a tie). AKA keys only from the environment, so secrets stay out of argv and config files. Neither
 * appears in any message.
 */
async function imsSecrets(
  merged: Layer,
  env: NodeJS.ProcessEnv,
  warnings: string[],
  configFile: string | null,
): Promise<ImsSecrets> {
  if (!merged.has('ims.registrar')) return { passwordFrom: '' };
  const k = env[EXTRA_ENV.akaK] || undefined;
  const op = env[EXTRA_ENV.akaOp] || undefined;
  const opc = env[EXTRA_ENV.akaOpc] || undefined;
  const aka = k === undefined ? undefined : { k, ...(op ? { op } : {}), ...(opc ? { opc } : {}) };
  const envPassword = env[EXTRA_ENV.password] || undefined;
  const fileEntry = merged.get('ims.passwordFile');

  const useFile = fileEntry !== undefined && (envPassword === undefined || LAYER_RANK[fileEntry.origin.kind] >= 2);
  if (useFile) {
    const path = fileEntry.value as string;
    const password = await readSecretFile(path, fileEntry.origin, configFile, warnings);
    return {
      password,
      passwordSource: fileEntry.origin.kind,
      passwordFrom: `read from ${path}`,
      ...(aka ? { aka } : {}),
    };
  }
  if (envPassword !== undefined) {
    return {
      password: envPassword,
      passwordSource: 'env',
      passwordFrom: `from ${EXTRA_ENV.password}`,
      ...(aka ? { aka } : {}),
    };
  }
  if (aka) return { passwordFrom: '', aka };
  throw configError(
    [
      {
        key: 'ims.passwordFile',
        problem: `is required for IMS registration (or set ${EXTRA_ENV.password}, or ${EXTRA_ENV.akaK} for IMS AKA)`,
        origin: originOf(merged, 'ims.registrar'),
      },
    ],
    configFile,
  );
}

async function readSecretFile(
  path: string,
  origin: Origin,
  configFile: string | null,
  warnings: string[],
): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : fromSystemError(err, path).message;
    throw configError(
      [{ key: 'ims.passwordFile', problem: `cannot read ${path}: ${reason.replace(`${path}: `, '')}`, origin }],
      configFile,
    );
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') {
    throw configError([{ key: 'ims.passwordFile', problem: `${path} is empty`, origin }], configFile);
  }
  const mode = (await stat(path)).mode;
  if ((mode & 0o007) !== 0)
    warnings.push(`ims.passwordFile ${path} can be read by any user (mode ${(mode & 0o777).toString(8)}): chmod o-rwx`);
  return password;
}

function unknownEnvWarnings(env: NodeJS.ProcessEnv): string[] {
  const known = new Set<string>([...SETTING_KEYS.map(envName), ...Object.values(EXTRA_ENV)]);
  const knownList = [...known];
  const warnings: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('EDGEPEER_') || known.has(name)) continue;
    const near = closest(name, knownList);
    warnings.push(`${name} is not a setting edgepeer knows${near ? ` (did you mean ${near}?)` : ''}; ignored`);
  }
  return warnings;
}

/** The CAs of ims.tlsCaFile, read and checked, when IMS registration is on and the key is set. */
async function imsTlsCa(merged: Layer, configFile: string | null): Promise<Buffer | undefined> {
  const entry = merged.get('ims.tlsCaFile');
  if (!merged.has('ims.registrar') || entry === undefined) return undefined;
  try {
    return await readCaFile(entry.value as string);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw configError([{ key: 'ims.tlsCaFile', problem: message, origin: entry.origin }], configFile);
  }
}

/** The HTTPS certificate and key, read and checked, when https.port is set. */
async function httpsCertificate(
  merged: Layer,
  configFile: string | null,
): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  const certEntry = merged.get('https.certFile');
  const keyEntry = merged.get('https.keyFile');
  if (!merged.has('https.port') || certEntry === undefined || keyEntry === undefined) return undefined;
  const certPath = certEntry.value as string;
  const keyPath = keyEntry.value as string;
  try {
    return await readCertificatePair(certPath, keyPath);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const entry = message.includes(keyPath) ? keyEntry : certEntry;
    const key = entry === keyEntry ? 'https.keyFile' : 'https.certFile';
    throw configError([{ key, problem: message, origin: entry.origin }], configFile);
  }
}

function toAgentConfig(
  merged: Layer,
  secrets: ImsSecrets,
  tlsCa: Buffer | undefined,
  https: { cert: Buffer; key: Buffer } | undefined,
): EdgepeerConfig {
  const v = <K extends SettingKey>(key: K) => get(merged, key);
  const dataDir = v('dataDir') as string;
  const limits: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    if (key.startsWith('peer.limits.')) limits[key.slice('peer.limits.'.length)] = v(key);
  }
  const httpLimits = {
    maxConnections: v('http.limits.maxConnections') as number,
    maxConnectionsPerIp: v('http.limits.maxConnectionsPerIp') as number,
    requestTimeoutMs: v('http.limits.requestTimeoutMs') as number,
  };
  const peerHost = v('peer.host');
  const registrar = v('ims.registrar');
  const listen = v('admin.listen') as { host: string; port: number };
  const optional = <T>(name: string, value: T | undefined) => (value === undefined ? {} : { [name]: value });
  return {
    dataDir,
    logLevel: v('logLevel') as LogLevel,
    peer: {
      port: v('peer.port') as number,
      ...optional('host', peerHost),
      mse: v('peer.mse') as NonNullable<AgentConfig['peer']['mse']>,
      limits: limits as NonNullable<AgentConfig['peer']['limits']>,
      ...((v('peer.threads') as number) > 1 ? { threads: v('peer.threads') as number } : {}),
    },
    http: v('http.enabled')
      ? {
          port: v('http.port') as number,
          policy: v('http.policy') as NonNullable<AgentConfig['http']>['policy'],
          directReadMaxBytes: v('http.directRead') as number,
          limits: httpLimits,
          ...((v('http.threads') as number) > 1 ? { threads: v('http.threads') as number } : {}),
          ...optional('host', v('http.host')),
          ...optional('publicUrl', v('http.publicUrl')),
          ...optional('accessLog', v('http.accessLog')),
          ...optional('tokenKeys', v('http.tokenKeys')),
          ...(v('http.corsOrigin') === 'off' ? {} : { corsOrigin: v('http.corsOrigin') as string }),
        }
      : null,
    accounting:
      v('accounting.dir') === undefined
        ? null
        : {
            dir: v('accounting.dir') as string,
            interimMs: v('accounting.interim') as number,
            rotateBytes: v('accounting.rotateSize') as number,
            rotateMs: v('accounting.rotateAge') as number,
          },
    https:
      https === undefined || !v('http.enabled')
        ? null
        : { port: v('https.port') as number, cert: https.cert, key: https.key },
    cacheBytes: v('cacheSize') as number,
    cacheVerify: v('cacheVerify') as AgentConfig['cacheVerify'],
    trackers: v('trackers') as string[],
    announce: v('announce') as boolean,
    peerAuth:
      v('peerAuth') !== 'tracker'
        ? null
        : v('peerAuthUrl') === undefined && v('controller.url') !== undefined
          ? { from: 'controller' }
          : { url: v('peerAuthUrl') as string, tokenFile: v('peerAuthTokenFile') as string },
    ims:
      registrar === undefined
        ? null
        : {
            registrar,
            impi: v('ims.impi') as string,
            impu: v('ims.impu') as string,
            expires: v('ims.expires') as number,
            ...optional('password', secrets.password),
            ...optional('aka', secrets.aka),
            ...optional('transport', v('ims.transport')),
            ...optional('domain', v('ims.domain')),
            ...optional('contactHost', v('ims.contactHost')),
            ...optional('contactPort', v('ims.contactPort')),
            ...optional('localPort', v('ims.localPort')),
            ...optional('tls', tlsCa === undefined ? undefined : { ca: tlsCa }),
          },
    ...optional('hashThreads', v('hashThreads')),
    controller:
      v('controller.url') === undefined
        ? null
        : {
            urls: v('controller.url') as string[],
            enrolToken: (v('controller.enrolToken') as string | undefined) ?? null,
          },
    admin: v('admin.enabled')
      ? {
          host: listen.host,
          port: listen.port,
          tokenFile: v('admin.tokenFile') as string,
          metricsToken: v('admin.metricsToken') as boolean,
          dashboard: v('admin.dashboard') as boolean,
        }
      : null,
    shutdownGraceMs: v('shutdownGrace') as number,
    storageControl: v('storageControl.enabled') ? storageControlConfig(merged) : null,
    qos: qosOf(merged),
    scrub: {
      bytesPerSecond: v('scrub.rate') as number,
      passIntervalMs: v('scrub.interval') as number,
      window: v('scrub.window') === undefined ? null : parseScrubWindow(v('scrub.window') as string),
    },
  };
}

/**
 * The tracker statistics URL storage control follows when storageControl.statsUrl is not set: the /stats
 * beside the first http(s) tracker announce URL ending in /announce; null when there is none.
 */
export function statsUrlFromTrackers(trackers: readonly string[]): string | null {
  for (const tracker of trackers) {
    if (!/^https?:\/\//i.test(tracker)) continue;
    const url = new URL(tracker);
    if (!url.pathname.endsWith('/announce')) continue;
    url.pathname = `${url.pathname.slice(0, -'/announce'.length)}/stats`;
    url.search = '';
    return url.toString();
  }
  return null;
}

/** The qos.* keys as QosSettings (checked by src/qos: classes named by objectClasses exist, windows). */
function qosOf(merged: Layer): QosSettings {
  const given: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    if (key.startsWith('qos.')) given[key.slice('qos.'.length)] = get(merged, key);
  }
  return resolveQos(given);
}

function storageControlConfig(merged: Layer): NonNullable<AgentConfig['storageControl']> {
  const v = <K extends SettingKey>(key: K) => get(merged, key);
  const objects = (v('storageControl.objects') as string).trim();
  return {
    settings: {
      lowCopies: v('storageControl.lowCopies') as number,
      highCopies: v('storageControl.highCopies') as number,
      demandPerCopy: v('storageControl.demandPerCopy') as number,
      copiesPerLeecher: v('storageControl.copiesPerLeecher') as number,
      paceSeedsPerLeecher: v('storageControl.paceSeedsPerLeecher') as number,
      holdMs: v('storageControl.hold') as number,
      ttlMs: v('storageControl.ttl') as number,
      budgetBytes: v('storageControl.budget') as number,
      ingestBytesPerSecond: v('storageControl.ingestRate') as number,
      opsPerMinute: v('storageControl.opsPerMinute') as number,
      staleMs: v('storageControl.stale') as number,
      setAside: v('storageControl.setAside') as boolean,
    },
    statsUrl:
      (v('storageControl.statsUrl') as string | undefined) ?? statsUrlFromTrackers(v('trackers') as string[]) ?? '',
    scrape:
      v('storageControl.scrapeUrl') === undefined
        ? null
        : { url: v('storageControl.scrapeUrl') as string, intervalMs: v('storageControl.scrapeInterval') as number },
    objects: objects === 'all' ? null : objects.split(',').map((hash) => hash.trim().toLowerCase()),
    intervalMs: v('storageControl.interval') as number,
    topUpBytesPerSecond: v('storageControl.topUpRate') as number,
    catalogue: (v('storageControl.catalogue') as string | undefined) ?? null,
  };
}
