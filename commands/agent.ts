import { Flags } from '@oclif/core';
import { Agent, reloadAgent } from '../src/agent/index.ts';
import { BaseCommand, createLogger, serveUntilStopped, untilStopSignal } from '../src/cli/index.ts';
import { AGENT_FLAGS, type AgentFlag, resolveAgentConfig } from '../src/config/index.ts';

/** oclif flags for the settings table, with no defaults, so that "not given" lets the file and env speak. */
function settingFlag(flag: AgentFlag) {
  const description = `${flag.description}${flag.defaultText ? ` Default: ${flag.defaultText}.` : ''} [env ${flag.env}]`;
  switch (flag.kind) {
    case 'integer':
      return Flags.integer({ description });
    case 'boolean':
      return Flags.boolean({ description, allowNo: !flag.invert });
    case 'multiple':
      return Flags.string({ description, multiple: true });
    default:
      return Flags.string({ description, ...(flag.options ? { options: [...flag.options] } : {}) });
  }
}

export default class AgentCommand extends BaseCommand {
  static override description =
    `Run the agent: serve the store's pieces to BitTorrent clients (peer wire) and HTTP clients (ranges, web seeds), announce them to trackers and stay registered in IMS, until SIGINT or SIGTERM.
Settings: embedded defaults < config file (--config, $EDGEPEER_CONFIG, /etc/edgepeer/config.yaml) < EDGEPEER_* environment < flags (docs/configuration.md).
SIGTERM/SIGINT: stop accepting, let transfers in flight finish within the shutdown grace, announce "stopped", deregister from IMS, exit 0. SIGHUP: reload the configuration.`;

  static override examples = [
    '<%= config.bin %> agent --config /etc/edgepeer/config.yaml',
    '<%= config.bin %> agent --peer-port 6881 --http-port 8080 --tracker http://tracker.example:6969/announce',
    '<%= config.bin %> agent --peer-port 0 --http-port 0 --admin-listen 127.0.0.1:0 --json',
  ];

  static override flags = {
    config: Flags.string({ description: 'Config file (YAML). [env EDGEPEER_CONFIG]' }),
    ...Object.fromEntries(AGENT_FLAGS.filter((flag) => !flag.invert).map((flag) => [flag.flag, settingFlag(flag)])),
  };

  async run(): Promise<void> {
    // Listened for from the start: a stop asked while starting ends the daemon cleanly once it has started.
    const stopSignal = untilStopSignal();
    const { flags } = await this.parse(AgentCommand);
    const resolve = () =>
      resolveAgentConfig({ flags, env: process.env, ...(flags.config ? { configPath: flags.config as string } : {}) });
    const resolved = await resolve();
    const logger = createLogger(resolved.config.logLevel);
    for (const warning of resolved.warnings) logger.warn(warning);
    const agent = await Agent.start(resolved.config, logger);
    const where = agent.where();
    const config = resolved.config;
    this.emit(
      {
        event: 'listening',
        peerId: agent.peerId.toString('hex'),
        ...where,
        dataDir: config.dataDir,
        configFile: resolved.file,
      },
      [
        `edgepeer agent serving ${config.dataDir}${resolved.file ? ` (config ${resolved.file})` : ''}`,
        `peer wire  port ${where.peerPort} (${where.peerAddresses.join(', ')})`,
        where.httpPort === null ? 'http       off' : `http       ${where.httpBaseUrls.join(' ')}`,
        ...(where.httpsPort === null ? [] : [`https      port ${where.httpsPort}`]),
        `trackers   ${config.announce ? config.trackers.join(' ') || "each object's own" : 'off'}`,
        `admin      ${where.adminUrl ?? 'off'}`,
        `ims        ${config.ims ? `${config.ims.impu} via ${config.ims.registrar}` : 'off'}`,
      ].join('\n'),
    );
    await serveUntilStopped(agent, logger, {
      stopSignal,
      graceMs: config.shutdownGraceMs,
      reload: () => reloadAgent(agent, resolve, logger),
      stopped: (record) => this.emit(record, 'stopped'),
    });
  }
}
