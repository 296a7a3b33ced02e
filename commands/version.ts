import { versions } from '../src/admin/index.ts';
import { BaseCommand } from '../src/cli/index.ts';

export default class Version extends BaseCommand {
  static override description = 'Print the versions of edgepeer, Node.js and the protocol libraries.';

  static override examples = [
    '<%= config.bin %> version',
    '<%= config.bin %> version --json   # one JSON object, for bug reports and inventories',
  ];

  async run(): Promise<void> {
    await this.parse(Version);
    const v = versions();
    this.emit(
      v,
      Object.entries(v)
        .map(([k, value]) => `${k} ${value}`)
        .join('\n'),
    );
  }
}
