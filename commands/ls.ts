import { withOperations } from '../src/admin/index.ts';
import { BaseCommand, configFlag, controllerFlags, controllerOption, dataDirFlag } from '../src/cli/index.ts';
import { formatBytes } from '../src/config/index.ts';

export default class Ls extends BaseCommand {
  static override description = 'List the objects in the store: info hash, name, size, pieces held of total, expiry.';

  static override examples = ['<%= config.bin %> ls', '<%= config.bin %> ls --json | jq -r .infoHash'];

  static override flags = { config: configFlag, 'data-dir': dataDirFlag, ...controllerFlags };

  async run(): Promise<void> {
    const { flags } = await this.parse(Ls);
    const summaries = await withOperations(
      { dataDir: flags['data-dir'], mode: 'read', ...controllerOption(flags, flags['data-dir']) },
      (ops) => ops.list(),
    );
    // Column headers for people; --json lines stay one object each.
    if (!this.jsonMode && summaries.length > 0) {
      process.stdout.write(`${'INFO HASH'.padEnd(40)}  ${'SIZE'.padStart(10)}  ${'PIECES'.padStart(11)}  NAME\n`);
    }
    for (const s of summaries) {
      const expires = s.expiresAt ? `  expires ${s.expiresAt}` : '';
      this.emit(
        s,
        `${s.infoHash}  ${formatBytes(s.length).padStart(10)}  ${`${s.piecesHeld}/${s.pieces}`.padStart(11)}  ${s.name}${expires}`,
      );
    }
    this.note(`${summaries.length} object(s)`);
  }
}
