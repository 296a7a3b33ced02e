import type { IncomingMessage, ServerResponse } from 'node:http';
import { Flags } from '@oclif/core';
import { ensureToken, sendError } from '../src/admin/index.ts';
import { BaseCommand, createLogger, untilStopSignal } from '../src/cli/index.ts';
import { redisStateOf } from '../src/config/index.ts';
import { createTrackerDashboard } from '../src/dashboard/index.ts';
import { InvalidArgumentError, isEdgepeerError } from '../src/errors/index.ts';
import type { Logger } from '../src/log/index.ts';
import { AllowList, PasskeyFile, PasskeyHook, type PasskeySource } from '../src/peer-auth/index.ts';
import { Topology } from '../src/topology/index.ts';
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
    '<%= config.bin %> tracker --port 6969 --alto-network-map /etc/edgepeer/networkmap.json --alto-cost-map /etc/edgepeer/costmap.json',
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
    'raw-accept': Flags.boolean({
      description:
        "Answer announces and scrapes sent one per connection (Connection: close, as BitTorrent clients do) on the connection's libuv handle, without a net.Socket: the same answers for about half the CPU. --no-raw-accept: node:net for every connection.",
      env: 'EDGEPEER_TRACKER_RAW_ACCEPT',
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
    'alto-network-map': Flags.string({
      description:
        "ALTO network map (RFC 7285 application/alto-networkmap+json) or coverage zone file: a file (reloaded when it changes and on SIGHUP) or an http(s) URL of an ALTO server. Peer lists are then ordered by cost from the asker's PID, CDN URLs nearest first (docs/topology.md).",
      env: 'EDGEPEER_TRACKER_ALTO_NETWORK_MAP',
    }),
    'alto-cost-map': Flags.string({
      description:
        'ALTO cost map (application/alto-costmap+json, routingcost) as a file or URL. Without it: same PID first, every other PID alike.',
      env: 'EDGEPEER_TRACKER_ALTO_COST_MAP',
      dependsOn: ['alto-network-map'],
    }),
    'alto-random-share': Flags.string({
      description:
        'Share of each peer list drawn at random whatever the cost, 0 to 1, so that locality never partitions a swarm (RFC 6821).',
      env: 'EDGEPEER_TRACKER_ALTO_RANDOM_SHARE',
      default: '0.2',
    }),
    'alto-refresh': Flags.integer({
      description: 'Seconds between fetches of maps from an ALTO server (If-None-Match: unchanged maps cost a 304).',
      env: 'EDGEPEER_TRACKER_ALTO_REFRESH',
      default: 300,
      min: 1,
    }),
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
    const topology = await openTopology(flags, logger);
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
      ...(topology === null ? {} : { topology, altoRandomShare: randomShare(flags['alto-random-share']) }),
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
      rawAccept: flags['raw-accept'],
      ...(flags['invite-below'] === undefined ? {} : { inviteBelow: flags['invite-below'] }),
      logger,
    });
    let address: Awaited<ReturnType<typeof tracker.listen>>;
    try {
      address = await tracker.listen();
    } catch (err) {
      dashboard?.close();
      topology?.close();
      await swarmStore.close();
      throw err;
    }
    // SIGHUP reads the ALTO maps and the passkeys again; a failed read keeps what was in use.
    const onHangup = () => {
      topology?.reload().catch((err: unknown) => logger.error({ err }, 'tracker: map reload failed'));
      peerAuth?.passkeys.reload().then(
        () => logger.info({ passkeys: peerAuth.passkeys.size }, 'tracker: passkeys read again'),
        (err: unknown) =>
          logger.error({ err: (err as Error).message }, 'tracker: passkeys not reloaded; the old ones stay'),
      );
    };
    process.on('SIGHUP', onHangup);
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
    const signal = await stopSignal;
    logger.info({ signal }, 'tracker: stopping');
    dashboard?.close();
    process.off('SIGHUP', onHangup);
    topology?.close();
    await tracker.close();
    await swarmStore.close();
    this.emit({ event: 'stopped', signal });
  }
}

/** The network and cost maps when --alto-network-map is given; a map that cannot be read stops the start. */
async function openTopology(
  flags: { 'alto-network-map'?: string; 'alto-cost-map'?: string; 'alto-refresh': number },
  logger: Logger,
): Promise<Topology | null> {
  if (flags['alto-network-map'] === undefined) return null;
  return Topology.open({
    networkMap: flags['alto-network-map'],
    ...(flags['alto-cost-map'] === undefined ? {} : { costMap: flags['alto-cost-map'] }),
    refreshS: flags['alto-refresh'],
    logger,
  });
}

function randomShare(text: string): number {
  const share = Number(text);
  if (text.trim() === '' || !(share >= 0 && share <= 1)) {
    throw new InvalidArgumentError(`--alto-random-share must be a number from 0 to 1, got "${text}"`, {
      subject: 'alto-random-share',
    });
  }
  return share;
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
