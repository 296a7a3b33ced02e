import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/index.ts';
import {
  chooseServiceNode,
  DEFAULT_CONTROLLER_SERVICE,
  DEFAULT_SERVICE,
  installService,
} from '../../src/config/index.ts';

export default class ServiceInstall extends BaseCommand {
  static override description =
    'Write a systemd unit that runs `edgepeer agent` as a dedicated user in a sandbox (Restart=on-failure, ' +
    'ProtectSystem=strict, no capabilities unless a port below 1024 needs CAP_NET_BIND_SERVICE), with this ' +
    'edgepeer and this Node.js. As root it also creates the user (if missing) and the data dir. ' +
    'Then: systemctl daemon-reload && systemctl enable --now edgepeer. ' +
    'With --controller: the same for `edgepeer controller` (edgepeer-controller.service, ' +
    `${DEFAULT_CONTROLLER_SERVICE.configFile}, ${DEFAULT_CONTROLLER_SERVICE.dataDir}).`;

  static override examples = [
    'sudo <%= config.bin %> service install',
    '<%= config.bin %> service install --dry-run',
    'sudo <%= config.bin %> service install --config /etc/edgepeer/edge1.yaml --data-dir /srv/edgepeer',
    'sudo <%= config.bin %> service install --controller',
  ];

  static override flags = {
    controller: Flags.boolean({
      description: 'A unit for `edgepeer controller` instead of the agent.',
      default: false,
    }),
    user: Flags.string({ description: 'User (and group) the daemon runs as.', default: DEFAULT_SERVICE.user }),
    config: Flags.string({
      description: `Config file the daemon reads (default ${DEFAULT_SERVICE.configFile}; with --controller ${DEFAULT_CONTROLLER_SERVICE.configFile}).`,
    }),
    'data-dir': Flags.string({
      description: `Folder of the content store (default ${DEFAULT_SERVICE.dataDir}), or of the controller's state (${DEFAULT_CONTROLLER_SERVICE.dataDir}).`,
    }),
    'unit-dir': Flags.string({ description: 'Where to write edgepeer.service.', default: DEFAULT_SERVICE.unitDir }),
    'dry-run': Flags.boolean({ description: 'Print the unit and the steps; change nothing.', default: false }),
    node: Flags.string({
      description:
        'The Node.js (22.19 or newer) the unit runs. Default: the one running this command, unless it is under a temporary or hidden folder; then /usr/bin/node or /usr/local/bin/node if new enough.',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ServiceInstall);
    const node = await chooseServiceNode(flags.node === undefined ? {} : { given: flags.node });
    const result = await installService({
      node: node.node,
      role: flags.controller ? 'controller' : 'agent',
      user: flags.user,
      ...(flags.config === undefined ? {} : { configFile: flags.config }),
      ...(flags['data-dir'] === undefined ? {} : { dataDir: flags['data-dir'] }),
      unitDir: flags['unit-dir'],
      dryRun: flags['dry-run'],
    });
    const user = {
      exists: `user ${result.user} exists`,
      created: `created user ${result.user}`,
      'would create': `would create user ${result.user}`,
      missing: `user ${result.user} does not exist (not root: create it, see below)`,
    }[result.userStatus];
    this.emit(
      { ...result, node: { path: node.node, version: node.version } },
      result.dryRun ? result.unit.trimEnd() : `wrote ${result.unitFile}\n${user}\ndata dir ${result.dataDir}`,
    );
    if (result.dryRun) this.note(`dry run: would write ${result.unitFile}; ${user}`);
    for (const note of [node.note, ...result.notes]) this.note(`note: ${note}`);
    this.note(`next:\n${result.nextSteps.map((step) => `  ${step}`).join('\n')}`);
  }
}
