// `edgepeer service install`: a systemd unit for `edgepeer agent` run by a dedicated user in a sandbox.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fromSystemError, InvalidArgumentError } from '../errors/index.ts';
import { formatDuration } from './units.ts';

const run = promisify(execFile);

export const DEFAULT_SERVICE = {
  user: 'edgepeer',
  configFile: '/etc/edgepeer/config.yaml',
  dataDir: '/var/lib/edgepeer',
  unitDir: '/etc/systemd/system',
  unitName: 'edgepeer.service',
} as const;

/** `service install --controller`: the CDN controller's unit, beside an agent's if both run on one host. */
export const DEFAULT_CONTROLLER_SERVICE = {
  configFile: '/etc/edgepeer/controller.yaml',
  dataDir: '/var/lib/edgepeer-controller',
  unitName: 'edgepeer-controller.service',
} as const;

/** Which daemon a unit runs. */
export type ServiceRole = 'agent' | 'controller';

export interface UnitOptions {
  /** Default 'agent'. */
  role?: ServiceRole;
  user: string;
  group?: string;
  configFile: string;
  dataDir: string;
  /** Pass --data-dir in ExecStart (default true); false when the config file sets dataDir itself. */
  dataDirInCommand?: boolean;
  /** Absolute paths of the Node.js binary and of edgepeer's bin/run.js. */
  node: string;
  entry: string;
  /** Ports the agent listens on; any below 1024 needs CAP_NET_BIND_SERVICE. */
  ports: number[];
  /** Folders the agent writes besides the data dir (e.g. the admin token's). */
  writablePaths?: string[];
  shutdownGraceMs: number;
  /** Open files allowed: peers, store files, sockets. */
  maxOpenFiles: number;
  /** Optional EnvironmentFile for secrets (EDGEPEER_IMS_PASSWORD); missing is fine. */
  environmentFile?: string;
  documentation?: string;
}

/** Quotes one ExecStart= word: systemd splits on spaces and expands % specifiers and $ variables. */
function execWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /[\s"'\\;]/.test(escaped) ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped;
}

const HOME_DIRS = ['/home', '/root', '/run/user'];
const under = (path: string, dir: string) => {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

export function renderServiceUnit(options: UnitOptions): string {
  const group = options.group ?? options.user;
  const privileged = options.ports.some((port) => port > 0 && port < 1024);
  const stateDirectory = under(options.dataDir, '/var/lib') ? relative('/var/lib', options.dataDir) : undefined;
  const writable = [...(stateDirectory === undefined ? [options.dataDir] : []), ...(options.writablePaths ?? [])];
  const inHome = [options.node, options.entry, options.configFile, options.dataDir].some((path) =>
    HOME_DIRS.some((dir) => under(path, dir)),
  );
  // The agent stops within the grace plus its SHUTDOWN_MARGIN_MS (3 s, src/agent/agent.ts); the rest is room for
  // the process to exit before systemd kills it (test/config/systemd.test.ts checks the two agree).
  const stopSeconds = Math.ceil(options.shutdownGraceMs / 1000) + 10;
  const execStart = [
    options.node,
    options.entry,
    options.role ?? 'agent',
    '--config',
    options.configFile,
    ...(options.dataDirInCommand === false ? [] : ['--data-dir', options.dataDir]),
  ]
    .map(execWord)
    .join(' ');

  const lines = [
    '# Written by `edgepeer service install`; run it again to regenerate.',
    `# Local changes belong in a drop-in: systemctl edit ${options.role === 'controller' ? 'edgepeer-controller' : 'edgepeer'}`,
    '[Unit]',
    options.role === 'controller'
      ? 'Description=edgepeer controller: the CDN as one IMS P2P CDS peer over its edges (TR 23.844 6.2.2)'
      : 'Description=edgepeer agent: IMS P2P CDS peer (BitTorrent peer wire, HTTP ranges, tracker announces, SIP registration)',
    ...(options.documentation ? [`Documentation=${options.documentation}`] : []),
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    `User=${options.user}`,
    `Group=${group}`,
    `ExecStart=${execStart}`,
    // SIGHUP makes the agent reload its configuration.
    'ExecReload=/bin/kill -HUP $MAINPID',
    ...(options.environmentFile ? [`EnvironmentFile=-${options.environmentFile}`] : []),
    'Restart=on-failure',
    'RestartSec=2s',
    // On SIGTERM the agent stops accepting, tells trackers and the registrar, lets transfers finish within
    // shutdownGrace, and is gone within the grace plus a margin.
    `TimeoutStopSec=${stopSeconds}s`,
    `LimitNOFILE=${options.maxOpenFiles}`,
    'UMask=0027',
    ...(stateDirectory === undefined ? [] : [`StateDirectory=${stateDirectory}`, 'StateDirectoryMode=0750']),
    ...(writable.length > 0 ? [`ReadWritePaths=${writable.map(execWord).join(' ')}`] : []),
    '',
    '# Sandboxing: the agent needs its data dir, the network and nothing else.',
    'NoNewPrivileges=yes',
    privileged ? 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' : 'CapabilityBoundingSet=',
    ...(privileged ? ['AmbientCapabilities=CAP_NET_BIND_SERVICE'] : []),
    'ProtectSystem=strict',
    // read-only, not yes, when edgepeer, Node.js or its files live under a home folder.
    `ProtectHome=${inHome ? 'read-only' : 'yes'}`,
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RemoveIPC=yes',
    // AF_NETLINK: listing the host's addresses (os.networkInterfaces).
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    '# MemoryDenyWriteExecute= stays off: the V8 JIT needs writable executable memory.',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  return `${lines.join('\n')}\n`;
}

/** The package's own folder (the nearest package.json named edgepeer above this module). */
function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'edgepeer') return dir;
    } catch {
      // no package.json here
    }
  }
  throw new Error('edgepeer package.json not found above src/config');
}

/** bin/run.js of this edgepeer, with links resolved (an npm -g install links it from /usr/bin). */
/** The least Node.js edgepeer runs on (package.json engines; bin/run.js checks it too). */
const MIN_NODE = [22, 19] as const;
/** Where a service's Node.js is looked for when the one running this command will not do. */
const STABLE_NODES = ['/usr/bin/node', '/usr/local/bin/node'];
const TEMPORARY_DIRS = ['/tmp', '/var/tmp', '/dev/shm'];

/** Why a Node.js at `path` (its real path) cannot run a service, or null. */
function unfitNode(path: string, version: string | null): string | null {
  if (version === null) return `${path} does not run as Node.js`;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    return `${path} is Node.js ${version}; edgepeer needs ${MIN_NODE.join('.')} or newer`;
  }
  if (TEMPORARY_DIRS.some((dir) => under(path, dir))) {
    return `${path} is under a temporary folder, which the unit's PrivateTmp=yes hides (and which is cleaned)`;
  }
  if (path.split('/').some((part) => part.startsWith('.') && part.length > 1)) {
    return `${path} is under a hidden folder (a per-user install the service should not depend on)`;
  }
  return null;
}

/** The version `node` reports, or null when it does not run. */
export async function nodeVersionOf(node: string): Promise<string | null> {
  try {
    const { stdout } = await run(node, ['-p', 'process.versions.node'], { timeout: 10_000 });
    return stdout.trim();
  } catch {
    return null;
  }
}

/**
 * The Node.js a service unit should run: `given` (--node) if it will do, else the one running this command
 * if it will do, else the first stable one found (/usr/bin/node, /usr/local/bin/node) that will. Refuses
 * (InvalidArgumentError naming why) a Node under a temporary or hidden folder, or older than 22.19. `note`
 * says what was chosen, and why when it is not the running one.
 */
export async function chooseServiceNode(options: {
  given?: string;
  running?: string;
  candidates?: string[];
  versionOf?: (node: string) => Promise<string | null>;
  realPath?: (path: string) => string;
}): Promise<{ node: string; version: string; note: string }> {
  const versionOf = options.versionOf ?? nodeVersionOf;
  const realPath = options.realPath ?? ((path: string) => (existsSync(path) ? realpathSync(path) : path));
  const check = async (path: string) => {
    const real = realPath(resolve(path));
    const version = await versionOf(real);
    return { real, version, problem: unfitNode(real, version) };
  };
  if (options.given !== undefined) {
    const given = await check(options.given);
    if (given.problem !== null) throw new InvalidArgumentError(`--node: ${given.problem}`, { subject: options.given });
    return {
      node: given.real,
      version: given.version as string,
      note: `the unit runs Node.js ${given.version} at ${given.real} (--node)`,
    };
  }
  const running = await check(options.running ?? process.execPath);
  if (running.problem === null) {
    return {
      node: running.real,
      version: running.version as string,
      note: `the unit runs Node.js ${running.version} at ${running.real}, the one running this command`,
    };
  }
  for (const candidate of options.candidates ?? STABLE_NODES) {
    if (!(options.candidates !== undefined || existsSync(candidate))) continue;
    const found = await check(candidate);
    if (found.problem === null) {
      return {
        node: found.real,
        version: found.version as string,
        note: `the unit runs Node.js ${found.version} at ${found.real}: ${running.problem}`,
      };
    }
  }
  throw new InvalidArgumentError(
    `no Node.js for the service: ${running.problem}, and no Node.js ${MIN_NODE.join('.')} or newer at ` +
      `${(options.candidates ?? STABLE_NODES).join(' or ')}; give one with --node PATH`,
    { subject: running.real },
  );
}

export function edgepeerEntry(): string {
  return realpathSync(join(packageRoot(), 'bin', 'run.js'));
}

export interface InstallServiceOptions {
  /** Default 'agent'. */
  role?: ServiceRole;
  user?: string;
  configFile?: string;
  dataDir?: string;
  unitDir?: string;
  unitName?: string;
  dryRun?: boolean;
  /** Default process.execPath / this package's bin/run.js. */
  node?: string;
  entry?: string;
  /** Default: whether this process runs as root (only root creates users and chowns). */
  isRoot?: boolean;
}

export interface ServiceInstallResult {
  unitFile: string;
  unit: string;
  user: string;
  /** 'exists', 'created', 'would create' (dry run as root), or 'missing' (not root: create it yourself). */
  userStatus: 'exists' | 'created' | 'would create' | 'missing';
  configFile: string;
  configExists: boolean;
  dataDir: string;
  dryRun: boolean;
  written: boolean;
  /** Commands to run next, in order. */
  nextSteps: string[];
  notes: string[];
}

async function userExists(user: string): Promise<boolean> {
  try {
    await run('id', ['-u', user]);
    return true;
  } catch {
    return false;
  }
}

async function idOf(user: string): Promise<{ uid: number; gid: number; group: string }> {
  const [uid, gid, group] = await Promise.all(
    [['-u'], ['-g'], ['-gn']].map(async (option) => (await run('id', [...option, user])).stdout.trim()),
  );
  return { uid: Number(uid), gid: Number(gid), group: group as string };
}

function nologinShell(): string {
  return ['/usr/sbin/nologin', '/sbin/nologin'].find((path) => existsSync(path)) ?? '/bin/false';
}

function useraddArgs(user: string, dataDir: string): string[] {
  return ['--system', '--user-group', '--home-dir', dataDir, '--no-create-home', '--shell', nologinShell(), user];
}

/**
 * Writes the unit (unless dryRun), and as root creates the service user if missing and the data dir owned by
 * it. The config file, if it exists, is read for the ports (CAP_NET_BIND_SERVICE below 1024), the admin token
 * folder and the shutdown grace; its secrets are not read.
 */
export async function installService(options: InstallServiceOptions = {}): Promise<ServiceInstallResult> {
  const user = options.user ?? DEFAULT_SERVICE.user;
  if (!/^[a-z_][a-z0-9_-]{0,31}\$?$/i.test(user)) {
    throw new InvalidArgumentError(`--user ${JSON.stringify(user)} is not a valid user name`, { subject: user });
  }
  const role = options.role ?? 'agent';
  const defaults = role === 'controller' ? DEFAULT_CONTROLLER_SERVICE : DEFAULT_SERVICE;
  const configFile = resolve(options.configFile ?? defaults.configFile);
  const givenDataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  const unitDir = resolve(options.unitDir ?? DEFAULT_SERVICE.unitDir);
  const unitName = options.unitName ?? defaults.unitName;
  const unitFile = join(unitDir, unitName);
  const dryRun = options.dryRun === true;
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const notes: string[] = [];

  // What the daemon will run with, as far as the file says (the service's environment is not known here).
  const configExists = existsSync(configFile);
  const runs =
    role === 'controller'
      ? await controllerNeeds(configFile, configExists, givenDataDir ?? defaults.dataDir)
      : await agentNeeds(configFile, configExists, givenDataDir, user, notes);
  const { ports, writablePaths, shutdownGraceMs, maxConnections, dataDir, dataDirInCommand } = runs;
  if (!configExists) notes.push(`${configFile} does not exist yet: the unit assumes the defaults`);
  if (ports.some((p) => p > 0 && p < 1024)) {
    notes.push('a port below 1024 is configured: the unit grants CAP_NET_BIND_SERVICE and nothing else');
  }

  const node = options.node ?? process.execPath;
  const entry = options.entry ?? edgepeerEntry();
  for (const path of [node, entry, configFile, dataDir]) {
    if (HOME_DIRS.some((dir) => under(path, dir))) {
      notes.push(
        `${path} is under a home folder: the unit uses ProtectHome=read-only, and ${user} must be able to read it`,
      );
      break;
    }
  }
  if (['/tmp', '/var/tmp'].some((dir) => under(dataDir, dir))) {
    notes.push(`${dataDir} is under a temporary folder, which the unit's PrivateTmp=yes hides from the agent`);
  }
  const docs = join(dirname(dirname(entry)), 'docs', role === 'controller' ? 'controller.md' : 'configuration.md');
  // An existing user keeps its own primary group (nobody: nogroup); a new one gets a group of its name.
  const existing = await userExists(user);
  const group = existing ? (await idOf(user)).group : user;
  const unit = renderServiceUnit({
    role,
    dataDirInCommand,
    user,
    group,
    configFile,
    dataDir,
    node,
    entry,
    ports,
    writablePaths,
    shutdownGraceMs,
    maxOpenFiles: Math.max(65_536, 2 * maxConnections + 4096),
    environmentFile: join(dirname(configFile), 'environment'),
    ...(existsSync(docs) ? { documentation: `file://${docs}` } : {}),
  });

  let userStatus: ServiceInstallResult['userStatus'] = existing ? 'exists' : isRoot ? 'would create' : 'missing';
  if (!dryRun) {
    try {
      await mkdir(unitDir, { recursive: true });
      await writeFile(unitFile, unit, { mode: 0o644 });
    } catch (err) {
      throw fromSystemError(err, unitFile);
    }
    if (isRoot) {
      if (userStatus === 'would create') {
        try {
          await run('useradd', useraddArgs(user, dataDir));
        } catch (err) {
          throw fromSystemError(
            new Error(`useradd failed: ${(err as { stderr?: string }).stderr?.trim() ?? err}`),
            user,
          );
        }
        userStatus = 'created';
      }
      try {
        await mkdir(dataDir, { recursive: true, mode: 0o750 });
        const { uid, gid } = await idOf(user);
        await chown(dataDir, uid, gid);
      } catch (err) {
        throw fromSystemError(err, dataDir);
      }
    }
  }

  const nextSteps: string[] = [];
  if (userStatus === 'missing' || userStatus === 'would create') {
    nextSteps.push(`useradd ${useraddArgs(user, dataDir).join(' ')}`);
  }
  if (!isRoot || dryRun) nextSteps.push(`install -d -o ${user} -g ${group} -m 0750 ${dataDir}`);
  if (!configExists) {
    nextSteps.push(
      role === 'controller'
        ? `write ${configFile} (keys as the controller's flags: edgepeer controller --help)`
        : `edgepeer config init ${configFile}`,
    );
  }
  const serviceName = unitName.replace(/\.service$/, '');
  nextSteps.push(`systemctl daemon-reload && systemctl enable --now ${serviceName}`);
  nextSteps.push(`journalctl -u ${serviceName} -f`);
  notes.push(
    `the IMS password: a file named by ${role === 'controller' ? 'ims-password-file' : 'ims.passwordFile'} readable by ${user} (chown root:${user}, chmod 0640), or EDGEPEER_IMS_PASSWORD in ${join(dirname(configFile), 'environment')}`,
  );
  notes.push(`stop timeout ${formatDuration(shutdownGraceMs)} grace + 10s`);

  return {
    unitFile,
    unit,
    user,
    userStatus,
    configFile,
    configExists,
    dataDir,
    dryRun,
    written: !dryRun,
    nextSteps,
    notes,
  };
}

/** What a unit must allow the agent: its ports, folders it writes outside the data dir, its shutdown grace. */
async function agentNeeds(
  configFile: string,
  configExists: boolean,
  givenDataDir: string | undefined,
  user: string,
  notes: string[],
) {
  // Loaded here: the schema and YAML parser are for the commands that read configuration.
  const { resolveAgentConfig } = await import('./resolve.ts');
  const { config, settings, sources } = await resolveAgentConfig({
    configPath: configExists ? configFile : null,
    env: {},
    flags: givenDataDir === undefined ? {} : { 'data-dir': givenDataDir },
    readFiles: false,
  });
  // The config file's dataDir is the agent's: the unit does not override it (unless --data-dir was given).
  const fromFile = givenDataDir === undefined && sources.dataDir === 'file';
  const dataDir = givenDataDir ?? (fromFile ? config.dataDir : DEFAULT_SERVICE.dataDir);
  // The certificate files are not read here (they may not exist yet): the HTTPS port comes from the settings.
  const httpsPort = Number(settings.find((setting) => setting.key === 'https.port')?.value ?? 0);
  const writablePaths: string[] = [];
  const tokenDir = config.admin?.tokenFile ? dirname(config.admin.tokenFile) : undefined;
  if (tokenDir !== undefined && !under(tokenDir, dataDir)) writablePaths.push(tokenDir);
  const accessLogDir = config.http?.accessLog ? dirname(config.http.accessLog) : undefined;
  if (accessLogDir !== undefined && !under(accessLogDir, dataDir) && !writablePaths.includes(accessLogDir)) {
    writablePaths.push(accessLogDir);
    if (!existsSync(accessLogDir)) notes.push(`create ${accessLogDir} for the access log, writable by ${user}`);
  }
  return {
    ports: [config.peer.port, config.http?.port ?? 0, httpsPort, config.admin?.port ?? 0],
    writablePaths,
    shutdownGraceMs: config.shutdownGraceMs,
    maxConnections: config.peer.limits?.maxConnections ?? 2000,
    dataDir,
    dataDirInCommand: !fromFile,
  };
}

/** The same for the controller: its peer, HTTP, edge and admin ports. */
async function controllerNeeds(configFile: string, configExists: boolean, dataDir: string) {
  const { resolveControllerConfig } = await import('./controller-settings.ts');
  const { config } = await resolveControllerConfig(
    { 'data-dir': dataDir },
    { ...(configExists ? { configPath: configFile } : {}), env: {}, readFiles: false },
  );
  return {
    ports: [config.peer.port, config.http?.port ?? 0, config.edges.port, config.admin?.port ?? 0],
    writablePaths: [] as string[],
    shutdownGraceMs: config.shutdownGraceMs,
    maxConnections: 2000,
    dataDir,
    dataDirInCommand: true,
  };
}
