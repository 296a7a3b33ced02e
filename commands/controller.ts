import { Flags } from '@oclif/core';
import { BaseCommand, createLogger, serveUntilStopped, untilStopSignal } from '../src/cli/index.ts';
import {
  CONTROLLER_CONFIG_ENV,
  CONTROLLER_SETTINGS,
  type ControllerSetting,
  controllerEnvName,
  resolveControllerConfig,
} from '../src/config/index.ts';
import { Controller, reloadController } from '../src/controller/index.ts';

/** An oclif flag for a setting, with no default: "not given" lets the config file and the defaults speak. */
function settingFlag(setting: ControllerSetting) {
  const env = controllerEnvName(setting.name);
  const description = `${setting.description}${setting.default === undefined ? '' : ` Default: ${setting.default}.`} [env ${env}]`;
  switch (setting.kind) {
    case 'integer':
      return Flags.integer({
        description,
        env,
        ...(setting.min === undefined ? {} : { min: setting.min }),
        ...(setting.max === undefined ? {} : { max: setting.max }),
      });
    case 'boolean':
      return Flags.boolean({ description, env });
    case 'strings':
      // A list in the environment is comma-separated (read by run()).
      return Flags.string({ description, multiple: true });
    default:
      return Flags.string({ description, env, ...(setting.options ? { options: [...setting.options] } : {}) });
  }
}

export default class ControllerCommand extends BaseCommand {
  static override description =
    `Run the CDN controller (TR 23.844 6.2.2): the aggregate agent of its edges, until SIGINT or SIGTERM.
Edges join it with \`edgepeer agent --controller URL --enrol-token TOKEN\` (tokens from \`edgepeer controller token create\`). The controller registers the CDN in IMS once, announces each object once per tracker with the union of its edges' bitmaps, redirects HTTP clients to an edge that holds the bytes, serves peers pieces fetched from the edges (verified), and places ingests on --replicas edges (docs/controller.md).
Settings: defaults < config file (--config, $${CONTROLLER_CONFIG_ENV}; YAML keys named as the flags) < EDGEPEER_CONTROLLER_* environment < flags.
SIGTERM/SIGINT: stop accepting, announce "stopped", deregister, exit 0. SIGHUP: read the settings again (trackers, replicas, log level apply at once).`;

  static override examples = [
    '<%= config.bin %> controller --config /etc/edgepeer/controller.yaml',
    '<%= config.bin %> controller --edge-listen 0.0.0.0:7000 --http-port 8080 --tracker http://tracker.example:6969/announce',
    '<%= config.bin %> controller token create --ttl 1h',
  ];

  static override flags = {
    config: Flags.string({ description: `Config file (YAML). [env ${CONTROLLER_CONFIG_ENV}]` }),
    ...Object.fromEntries(CONTROLLER_SETTINGS.map((setting) => [setting.name, settingFlag(setting)])),
  };

  async run(): Promise<void> {
    // Listened for from the start: a stop asked while starting ends the daemon cleanly once it has started.
    const stopSignal = untilStopSignal();
    const { flags } = await this.parse(ControllerCommand);
    const given = { ...(flags as Record<string, string | number | boolean | string[] | undefined>) };
    for (const setting of CONTROLLER_SETTINGS) {
      const fromEnv = process.env[controllerEnvName(setting.name)];
      if (setting.kind === 'strings' && given[setting.name] === undefined && fromEnv) {
        given[setting.name] = fromEnv
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== '');
      }
    }
    const resolve = () => resolveControllerConfig(given, flags.config ? { configPath: flags.config } : {});
    const resolved = await resolve();
    const { config } = resolved;
    const logger = createLogger(resolved.logLevel);
    const controller = await Controller.start(config, logger);
    const where = controller.where();
    this.emit(
      {
        event: 'listening',
        peerId: controller.peerId.toString('hex'),
        ...where,
        dataDir: config.dataDir,
        configFile: resolved.file,
      },
      [
        `edgepeer controller, state in ${config.dataDir}${resolved.file ? ` (config ${resolved.file})` : ''}`,
        `edges      ${where.edgeUrl}`,
        `peer wire  port ${where.peerPort}`,
        where.httpPort === null ? 'http       off' : `http       ${where.httpBaseUrls.join(' ')}`,
        `trackers   ${config.announce ? config.trackers.join(' ') || "each object's own" : 'off'}`,
        `admin      ${where.adminUrl ?? 'off'}`,
        `ims        ${config.ims ? `${config.ims.impu} via ${config.ims.registrar}` : 'off'}`,
      ].join('\n'),
    );
    await serveUntilStopped(controller, logger, {
      stopSignal,
      graceMs: config.shutdownGraceMs,
      reload: () => reloadController(controller, resolve, logger),
      stopped: (record) => this.emit(record, 'stopped'),
    });
  }
}
