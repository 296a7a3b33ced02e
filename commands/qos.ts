import { agentJson } from '../src/admin/index.ts';
import { BaseCommand, configFlag, dataDirFlag } from '../src/cli/index.ts';
import { type QosStatus, renderQos } from '../src/qos/index.ts';

export default class QosShow extends BaseCommand {
  static override description =
    `Show the running agent's egress limits, priority classes, current rates and what waited for tokens (docs/qos.md).
Exit code 0; 7 if no agent runs on the data dir.`;

  static override examples = ['<%= config.bin %> qos', '<%= config.bin %> qos --json | jq .classes'];

  static override flags = { config: configFlag, 'data-dir': dataDirFlag };

  async run(): Promise<void> {
    const { flags } = await this.parse(QosShow);
    const status = (await agentJson(flags['data-dir'], 'GET', '/v1/qos')) as QosStatus;
    this.emit(status, renderQos(status));
  }
}
