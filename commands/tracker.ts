import type { IncomingMessage, ServerResponse } from 'node:http';
import { Flags } from '@oclif/core';
import { ensureToken, sendError } from '../src/admin/index.ts';
import { BaseCommand, createLogger, untilStopSignal } from '../src/cli/index.ts';
import { redisStateOf } from '../src/config/index.ts';
import { createTrackerDashboard } from '../src/dashboard/index.ts';
import { InvalidArgumentError, isEdgepeerError } from '../src/errors/index.ts';
import type { Logger } from '../src/log/index.ts';
import { AllowList, PasskeyFile, PasskeyHook, type PasskeySource } from '../src/peer-auth/index.ts';
import {
  ALLOWED_PATH,
  createTracker,
  openSwarmStore,
  redactUrl,
  type SwarmStore,
  type TrackerCoreOptions,
  TrackerPeerAuth,
} from '../src/tracker/index.ts';

export default class Tracker extends BaseCommand {
  static override description =
    'Run the reference BitTorrent tracker (HTTP and UDP on one port) with the bitmap extension and swarm statistics. Prints the announce URL and runs until SIGINT or SIGTERM.';

  static override examples = [
    '<%= config.bin %> tracker --port 6969',
    '<%= config.bin %> tracker --port 0 --host 127.0.0.1 --json',
    '<%= config.bin %> tracker --port 6969 --state redis://10.0.0.5:6379 --state-password-file /etc/edgepeer/redis.pass',
    '<%= config.bin %> tracker --port 6969 --passkeys /etc/edgepeer/passkeys --admin-token-file /etc/edgepeer/tracker.token',
  ];

  static override flags = {
    port: Flags.integer({ description: 'TCP and UDP port (0: any free port).', default: 6969, min: 0, max: 65535 }),
    host: Flags.string({ description: 'Address to listen on. Default: all addresses, IPv4 and IPv6.' }),
    interval: Flags.integer({ description: 'Announce interval told to clients, seconds.', default: 1800, min: 1 }),
    'min-interval': Flags.integer({
      description: 'Min interval told to clients, seconds (default: interval / 2).',
      min: 1,
    }),
    'peer-timeout': Flags.integer({
      description: 'Drop peers not heard from for this long, seconds (default: 2 x interval + 60).',
      min: 1,
    }),
    'max-swarms': Flags.integer({ description: 'Most swarms tracked.', default: 100_000, min: 1 }),
    'max-peers-per-swarm': Flags.integer({ description: 'Most peers kept per swarm.', default: 10_000, min: 1 }),
    'max-peers-per-address': Flags.integer({
      description: 'Most entries (one per swarm and port) one client address may hold.',
      default: 20_000,
      min: 1,
    }),
    'max-peers-per-network': Flags.integer({
      description: 'Most entries one /24 (IPv4) or /64 (IPv6) network may hold.',
      default: 50_000,
      min: 1,
    }),
    'trust-ip-param': Flags.boolean({
      description: 'List peers at the address in their `ip` parameter.',
      default: false,
    }),
    'cdn-allow': Flags.string({
      description:
        'Host, address or CIDR network whose CDN URLs (ep_url) any announcer may claim (repeatable). ' +
        'Without it, an announcer may only claim URLs at its own address.',
      multiple: true,
      default: [],
    }),
    'invite-below': Flags.integer({
      description:
        'Invite storage control into swarms whose rarest piece has fewer copies than this while leechers want it (GET /invitations). Default: off.',
      min: 1,
    }),
    udp: Flags.boolean({
      description: 'Serve UDP (BEP 15) on the same port; --no-udp for HTTP only.',
      default: true,
      allowNo: true,
    }),
    state: Flags.string({
      description:
        'Where the swarms live: memory (this process), or redis://HOST:PORT[/DB] (rediss:// for TLS) shared by several trackers, which then give the same peer lists and statistics.',
      default: 'memory',
    }),
    'state-password-file': Flags.string({
      description: 'File holding the Redis password (AUTH), when the URL has none.',
    }),
    'state-tls-ca': Flags.string({ description: "PEM file of the CAs that sign Redis's TLS certificate (rediss://)." }),
    'admin-token-file': Flags.string({
      description:
        'Serve the operator dashboard at /dashboard on the tracker port, behind the admin token in this file (created with a random token if missing). Without it, no dashboard.',
    }),
    passkeys: Flags.string({
      description:
        'Answer only announces with a known passkey (/<passkey>/announce or ?passkey=): a file of "PASSKEY sip:user@domain" lines, read again on SIGHUP. Needs --admin-token-file (agents read the allow-list with it); turns UDP and the multi-object announce off (docs/auth.md).',
      exclusive: ['passkey-hook'],
    }),
    'passkey-hook': Flags.string({
      description:
        'As --passkeys, asking an HTTP hook: GET URL?passkey=P answers 200 {"subscriber":"sip:..."} or 404 (cached a minute).',
    }),
    'allow-ttl': Flags.integer({
      description:
        'Seconds an authorised announce keeps its (address, object) on the allow-list (default: the peer timeout).',
      min: 1,
    }),
  };

  async run(): Promise<void> {
    // Listened for from the start: a stop asked while starting ends the tracker cleanly once it listens.
    const stopSignal = untilStopSignal();
    const { flags } = await this.parse(Tracker);
    const logger = createLogger('info');
    const options: TrackerCoreOptions = {
      intervalS: flags.interval,
      minIntervalS: flags['min-interval'],
      peerTimeoutS: flags['peer-timeout'],
      maxSwarms: flags['max-swarms'],
      maxPeersPerSwarm: flags['max-peers-per-swarm'],
      maxPeersPerAddress: flags['max-peers-per-address'],
      maxPeersPerNetwork: flags['max-peers-per-network'],
      trustIpParam: flags['trust-ip-param'],
      cdnAllow: flags['cdn-allow'],
    };
    const redis = await redisStateOf(
      { state: flags.state, passwordFile: flags['state-password-file'], tlsCaFile: flags['state-tls-ca'] },
      (name) => `--${name}`,
    );
    // Fails fast (EDGEPEER_STATE_UNREACHABLE) when Redis cannot be reached or refuses.
    const swarmStore = await openSwarmStore(redis, options, logger);
    const dashboard = await trackerDashboard(flags['admin-token-file'], swarmStore, logger);
    const peerAuth = await trackerPeerAuth(flags, options, logger);
    const tracker = createTracker({
      ...options,
      ...(dashboard === null ? {} : { pages: dashboard.pages }),
      ...(peerAuth === null ? {} : { peerAuth: peerAuth.gate }),
      swarmStore,
      port: flags.port,
      host: flags.host,
      udp: flags.udp,
      ...(flags['invite-below'] === undefined ? {} : { inviteBelow: flags['invite-below'] }),
      logger,
    });
    let address: Awaited<ReturnType<typeof tracker.listen>>;
    try {
      address = await tracker.listen();
    } catch (err) {
      dashboard?.close();
      await swarmStore.close();
      throw err;
    }
    this.emit(
      {
        event: 'listening',
        ...address,
        state: redis === null ? 'memory' : redactUrl(redis.url),
        ...(dashboard === null ? {} : { dashboardUrl: address.statsUrl.replace(/\/stats$/, '/dashboard/') }),
        ...(peerAuth === null ? {} : { allowListUrl: address.statsUrl.replace(/\/stats$/, ALLOWED_PATH) }),
      },
      [
        address.announceUrl,
        ...(address.udpAnnounceUrl === null ? [] : [address.udpAnnounceUrl]),
        `statistics: ${address.statsUrl}`,
        ...(dashboard === null ? [] : [`dashboard: ${address.statsUrl.replace(/\/stats$/, '/dashboard/')}`]),
        ...(redis === null ? [] : [`state: ${redactUrl(redis.url)}`]),
      ].join('\n'),
    );
    const reload = (): void => {
      peerAuth?.passkeys.reload().then(
        () => logger.info({ passkeys: peerAuth.passkeys.size }, 'tracker: passkeys read again'),
        (err: unknown) =>
          logger.error({ err: (err as Error).message }, 'tracker: passkeys not reloaded; the old ones stay'),
      );
    };
    process.on('SIGHUP', reload);
    const signal = await stopSignal;
    process.off('SIGHUP', reload);
    logger.info({ signal }, 'tracker: stopping');
    dashboard?.close();
    await tracker.close();
    await swarmStore.close();
    this.emit({ event: 'stopped', signal });
  }
}

/** The dashboard when an admin token file is given: its pages (errors answered as the admin API answers them). */
async function trackerDashboard(tokenFile: string | undefined, swarms: SwarmStore, logger: Logger) {
  if (tokenFile === undefined) return null;
  const dashboard = createTrackerDashboard({ token: await ensureToken(tokenFile), swarms });
  return {
    pages: async (req: IncomingMessage, res: ServerResponse) => {
      try {
        return await dashboard.handle(req, res);
      } catch (err) {
        if (!isEdgepeerError(err))
          logger.error({ err, path: req.url?.split('?')[0] }, 'tracker: dashboard request failed');
        sendError(res, err);
        return true;
      }
    },
    close: () => dashboard.close(),
  };
}

/** Passkeys and the allow-list when --passkeys or --passkey-hook is given (they need the admin token). */
async function trackerPeerAuth(
  flags: { passkeys?: string; 'passkey-hook'?: string; 'allow-ttl'?: number; 'admin-token-file'?: string },
  options: TrackerCoreOptions,
  logger: Logger,
): Promise<{ gate: TrackerPeerAuth; passkeys: PasskeySource } | null> {
  const file = flags.passkeys;
  const hook = flags['passkey-hook'];
  if (file === undefined && hook === undefined) return null;
  const tokenFile = flags['admin-token-file'];
  if (tokenFile === undefined) {
    throw new InvalidArgumentError(
      '--passkeys and --passkey-hook need --admin-token-file: agents read the allow-list with it',
    );
  }
  if (hook !== undefined && !/^https?:\/\//.test(hook)) {
    throw new InvalidArgumentError(`--passkey-hook must be an http(s) URL, got ${hook}`);
  }
  const passkeys = file !== undefined ? await PasskeyFile.load(file) : new PasskeyHook(hook as string);
  const intervalS = options.intervalS ?? 1800;
  const ttlS = flags['allow-ttl'] ?? options.peerTimeoutS ?? intervalS * 2 + 60;
  const gate = new TrackerPeerAuth({
    passkeys,
    allowList: new AllowList(ttlS * 1000),
    adminToken: await ensureToken(tokenFile),
    logger,
  });
  return { gate, passkeys };
}
