import { Flags } from '@oclif/core';
import { Agent, type AgentConfig, DEFAULT_AGENT_CONFIG } from '../src/agent/index.ts';
import { BaseCommand, createLogger, dataDirFlag, LOG_LEVELS, untilStopSignal } from '../src/cli/index.ts';
import { parseDuration, parseSize } from '../src/config/index.ts';

export default class AgentCommand extends BaseCommand {
  static override description =
    `Run the agent: serve the store's pieces to BitTorrent clients (peer wire) and HTTP clients (ranges, web seeds), and announce them to trackers, until SIGINT or SIGTERM.
On SIGINT/SIGTERM it stops accepting, lets transfers in flight finish within --shutdown-grace, announces "stopped", and exits 0.`;

  static override examples = [
    '<%= config.bin %> agent',
    '<%= config.bin %> agent --peer-port 6881 --http-port 8080 --tracker http://tracker.example:6969/announce',
    '<%= config.bin %> agent --peer-port 0 --http-port 0 --json',
  ];

  static override flags = {
    'data-dir': dataDirFlag,
    'peer-port': Flags.integer({
      description: 'Peer wire TCP port (0: any free port).',
      default: DEFAULT_AGENT_CONFIG.peer.port,
      min: 0,
      max: 65535,
    }),
    'peer-host': Flags.string({ description: 'Address for the peer wire server (default: all, IPv4 and IPv6).' }),
    'http-port': Flags.integer({ description: 'HTTP port (0: any free port).', default: 8080, min: 0, max: 65535 }),
    'http-host': Flags.string({ description: 'Address for the HTTP server (default: all, IPv4 and IPv6).' }),
    'no-http': Flags.boolean({ description: 'Do not serve HTTP.', default: false }),
    'public-url': Flags.string({
      description: 'Base URL of this agent as clients reach it (CDN URIs announced to trackers).',
    }),
    'partial-policy': Flags.string({
      description: 'Answer to HTTP requests for pieces not held.',
      options: ['refuse', 'redirect', 'pull-through'],
      default: 'refuse',
    }),
    'cache-size': Flags.string({ description: 'Piece cache size shared by peer wire and HTTP.', default: '256MiB' }),
    tracker: Flags.string({
      description: 'Tracker announce URL for every object (repeatable).',
      multiple: true,
      default: [],
    }),
    'no-announce': Flags.boolean({ description: 'Do not announce to any tracker.', default: false }),
    'admin-port': Flags.integer({
      description: 'Port of the local admin API (0: any free port).',
      default: 7070,
      min: 0,
      max: 65535,
    }),
    'admin-host': Flags.string({
      description: 'Address of the admin API (keep it on loopback).',
      default: '127.0.0.1',
    }),
    'no-admin': Flags.boolean({
      description: 'No admin API (CLI commands then cannot reach this agent).',
      default: false,
    }),
    'shutdown-grace': Flags.string({ description: 'Time transfers in flight get at shutdown.', default: '5s' }),
    'log-level': Flags.string({
      description: 'Log level of the JSON logs on stderr.',
      options: [...LOG_LEVELS],
      default: 'info',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentCommand);
    const config: AgentConfig = {
      ...DEFAULT_AGENT_CONFIG,
      dataDir: flags['data-dir'],
      peer: { port: flags['peer-port'], ...(flags['peer-host'] ? { host: flags['peer-host'] } : {}) },
      http: flags['no-http']
        ? null
        : {
            port: flags['http-port'],
            policy: flags['partial-policy'] as 'refuse' | 'redirect' | 'pull-through',
            ...(flags['http-host'] ? { host: flags['http-host'] } : {}),
            ...(flags['public-url'] ? { publicUrl: flags['public-url'] } : {}),
          },
      cacheBytes: parseSize(flags['cache-size'], '--cache-size'),
      trackers: flags.tracker,
      announce: !flags['no-announce'],
      admin: flags['no-admin'] ? null : { host: flags['admin-host'], port: flags['admin-port'] },
      shutdownGraceMs: parseDuration(flags['shutdown-grace'], '--shutdown-grace'),
    };
    const logger = createLogger(flags['log-level']);
    const agent = await Agent.start(config, logger);
    const where = agent.where();
    const listening = {
      event: 'listening',
      peerId: agent.peerId.toString('hex'),
      ...where,
      dataDir: config.dataDir,
    };
    this.emit(
      listening,
      [
        `edgepeer agent serving ${config.dataDir}`,
        `peer wire  port ${where.peerPort} (${where.peerAddresses.join(', ')})`,
        where.httpPort === null ? 'http       off' : `http       ${where.httpBaseUrls.join(' ')}`,
        `trackers   ${config.announce ? config.trackers.join(' ') || "each object's own" : 'off'}`,
      ].join('\n'),
    );
    const signal = await untilStopSignal();
    this.note(`${signal}: stopping`);
    await agent.stop();
    this.emit({ event: 'stopped', signal }, 'stopped');
  }
}
