import { readFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { stopOnUnexpectedError } from '../src/agent/index.ts';
import { BaseCommand, createLogger, defaultControllerDataDir, untilStopSignal } from '../src/cli/index.ts';
import { type ControllerConfig, DEFAULT_CONTROLLER_CONFIG, LOG_LEVELS, parseSize } from '../src/config/index.ts';
import { Controller } from '../src/controller/index.ts';
import { ConfigError, fromSystemError } from '../src/errors/index.ts';

/** HOST:PORT or [v6]:PORT; `what` names the flag in the error. */
function listenAddress(value: string, what: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (match === null || port > 65535) {
    throw new ConfigError(`${what}: "${value}" is not HOST:PORT (e.g. 0.0.0.0:7000 or [::]:7000)`, { subject: what });
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

export default class ControllerCommand extends BaseCommand {
  static override description =
    `Run the CDN controller (TR 23.844 6.2.2): the aggregate agent of its edges, until SIGINT or SIGTERM.
Edges join it with \`edgepeer agent --controller URL --enrol-token TOKEN\` (tokens from \`edgepeer controller token create\`). The controller registers the CDN in IMS once, announces each object once per tracker with the union of its edges' bitmaps, redirects HTTP clients to an edge that holds the bytes, serves peers pieces fetched from the edges (verified), and places ingests on --replicas edges.
Every flag has an environment variable (EDGEPEER_CONTROLLER_<FLAG>). SIGTERM/SIGINT: stop accepting, announce "stopped", deregister, exit 0.`;

  static override examples = [
    '<%= config.bin %> controller --edge-listen 0.0.0.0:7000 --http-port 8080 --tracker http://tracker.example:6969/announce',
    '<%= config.bin %> controller token create --ttl 1h',
    '<%= config.bin %> agent --controller http://controller.example:7000 --enrol-token /etc/edgepeer/enrol-token',
  ];

  static override flags = {
    'data-dir': Flags.string({
      description:
        "The controller's own state (enrolled edges, admin token). Default: next to the agent's data dir, edgepeer-controller.",
      env: 'EDGEPEER_CONTROLLER_DATA_DIR',
    }),
    'peer-port': Flags.integer({
      description: 'Peer wire port (0: any free).',
      env: 'EDGEPEER_CONTROLLER_PEER_PORT',
      default: 6881,
    }),
    'peer-host': Flags.string({
      description: 'Peer wire address (default: dual stack).',
      env: 'EDGEPEER_CONTROLLER_PEER_HOST',
    }),
    'http-port': Flags.integer({
      description: 'HTTP port for object and piece URLs (redirects to edges).',
      env: 'EDGEPEER_CONTROLLER_HTTP_PORT',
      default: 8080,
    }),
    'http-host': Flags.string({ description: 'HTTP address.', env: 'EDGEPEER_CONTROLLER_HTTP_HOST' }),
    'no-http': Flags.boolean({ description: 'No HTTP server.', env: 'EDGEPEER_CONTROLLER_NO_HTTP' }),
    'public-url': Flags.string({
      description: 'Base URL trackers hear as the CDN URI (default: the listening address).',
      env: 'EDGEPEER_CONTROLLER_PUBLIC_URL',
    }),
    'edge-listen': Flags.string({
      description: 'HOST:PORT where edges enrol and report.',
      env: 'EDGEPEER_CONTROLLER_EDGE_LISTEN',
      default: '[::]:7000',
    }),
    'admin-listen': Flags.string({
      description: 'HOST:PORT of the admin API (CLI: edges, token create, ingest --controller).',
      env: 'EDGEPEER_CONTROLLER_ADMIN_LISTEN',
      default: '127.0.0.1:7071',
    }),
    heartbeat: Flags.integer({
      description: 'Edge heartbeat period, ms; an edge silent for 3 periods is down.',
      env: 'EDGEPEER_CONTROLLER_HEARTBEAT_MS',
      default: 2000,
      min: 100,
      max: 60_000,
    }),
    replicas: Flags.integer({
      description: 'Edges each ingested object is placed on.',
      env: 'EDGEPEER_CONTROLLER_REPLICAS',
      default: 2,
      min: 1,
      max: 100,
    }),
    'cache-size': Flags.string({
      description: 'Memory for pieces fetched from edges for peers, e.g. 256MiB.',
      env: 'EDGEPEER_CONTROLLER_CACHE_SIZE',
      default: '256MiB',
    }),
    tracker: Flags.string({
      description: 'Tracker announce URL (repeatable).',
      env: 'EDGEPEER_CONTROLLER_TRACKERS',
      multiple: true,
    }),
    'no-announce': Flags.boolean({ description: 'Do not announce.', env: 'EDGEPEER_CONTROLLER_NO_ANNOUNCE' }),
    'ims-registrar': Flags.string({
      description: 'P-CSCF/registrar SIP URI: register the CDN in IMS.',
      env: 'EDGEPEER_CONTROLLER_IMS_REGISTRAR',
    }),
    'ims-impi': Flags.string({ description: 'IMS private identity.', env: 'EDGEPEER_CONTROLLER_IMS_IMPI' }),
    'ims-impu': Flags.string({
      description: 'IMS public identity (SIP URI) of the CDN.',
      env: 'EDGEPEER_CONTROLLER_IMS_IMPU',
    }),
    'ims-password-file': Flags.string({
      description: 'File holding the digest password (else $EDGEPEER_IMS_PASSWORD).',
      env: 'EDGEPEER_CONTROLLER_IMS_PASSWORD_FILE',
    }),
    'ims-transport': Flags.string({
      description: 'udp, tcp or tls.',
      env: 'EDGEPEER_CONTROLLER_IMS_TRANSPORT',
      options: ['udp', 'tcp', 'tls'],
    }),
    'log-level': Flags.string({
      description: 'Log level.',
      env: 'EDGEPEER_CONTROLLER_LOG_LEVEL',
      default: 'info',
      options: [...LOG_LEVELS],
    }),
    'shutdown-grace': Flags.integer({
      description: 'Time for transfers in flight at shutdown, ms.',
      env: 'EDGEPEER_CONTROLLER_SHUTDOWN_GRACE_MS',
      default: 5000,
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ControllerCommand);
    const config = await controllerConfig(flags);
    const logger = createLogger(flags['log-level'] as (typeof LOG_LEVELS)[number]);
    const controller = await Controller.start(config, logger);
    const where = controller.where();
    this.emit(
      { event: 'listening', peerId: controller.peerId.toString('hex'), ...where, dataDir: config.dataDir },
      [
        `edgepeer controller, state in ${config.dataDir}`,
        `edges      ${where.edgeUrl}`,
        `peer wire  port ${where.peerPort}`,
        where.httpPort === null ? 'http       off' : `http       ${where.httpBaseUrls.join(' ')}`,
        `trackers   ${config.announce ? config.trackers.join(' ') || "each object's own" : 'off'}`,
        `admin      ${where.adminUrl ?? 'off'}`,
        `ims        ${config.ims ? `${config.ims.impu} via ${config.ims.registrar}` : 'off'}`,
      ].join('\n'),
    );
    const stopOnFailure = stopOnUnexpectedError(controller, logger);
    const signal = await untilStopSignal();
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'stopping');
    const late = await controller.stop();
    stopOnFailure();
    this.emit({ event: 'stopped', signal, ...(late.length > 0 ? { late } : {}) }, 'stopped');
    if (late.length > 0) process.exit(0);
  }
}

async function controllerConfig(flags: Record<string, unknown>): Promise<ControllerConfig> {
  const f = flags as Record<string, string | number | boolean | string[] | undefined>;
  const edges = listenAddress(String(f['edge-listen']), '--edge-listen');
  const admin = listenAddress(String(f['admin-listen']), '--admin-listen');
  const registrar = f['ims-registrar'] as string | undefined;
  let ims: ControllerConfig['ims'] = null;
  if (registrar !== undefined) {
    if (f['ims-impi'] === undefined || f['ims-impu'] === undefined) {
      throw new ConfigError('--ims-registrar needs --ims-impi and --ims-impu', { subject: 'ims' });
    }
    const passwordFile = f['ims-password-file'] as string | undefined;
    let password = process.env.EDGEPEER_IMS_PASSWORD;
    if (passwordFile !== undefined) {
      try {
        password = (await readFile(passwordFile, 'utf8')).trim();
      } catch (err) {
        throw fromSystemError(err, passwordFile);
      }
    }
    if (!password)
      throw new ConfigError('IMS registration needs a password: --ims-password-file or EDGEPEER_IMS_PASSWORD', {
        subject: 'ims',
      });
    ims = {
      registrar,
      impi: f['ims-impi'] as string,
      impu: f['ims-impu'] as string,
      password,
      ...(f['ims-transport'] === undefined ? {} : { transport: f['ims-transport'] as 'udp' | 'tcp' | 'tls' }),
    };
  }
  const http = f['no-http']
    ? null
    : {
        port: f['http-port'] as number,
        corsOrigin: '*',
        ...(f['http-host'] === undefined ? {} : { host: f['http-host'] as string }),
        ...(f['public-url'] === undefined ? {} : { publicUrl: f['public-url'] as string }),
      };
  return {
    ...DEFAULT_CONTROLLER_CONFIG,
    dataDir: (f['data-dir'] as string | undefined) ?? defaultControllerDataDir(),
    peer: {
      port: f['peer-port'] as number,
      mse: 'rc4',
      ...(f['peer-host'] === undefined ? {} : { host: f['peer-host'] as string }),
    },
    http,
    edges: { host: edges.host, port: edges.port, heartbeatMs: f.heartbeat as number, replicas: f.replicas as number },
    admin: { host: admin.host, port: admin.port },
    cacheBytes: parseSize(String(f['cache-size']), '--cache-size'),
    trackers: (f.tracker as string[] | undefined) ?? [],
    announce: !f['no-announce'],
    ims,
    shutdownGraceMs: f['shutdown-grace'] as number,
  };
}
