import { Args } from '@oclif/core';
import { withOperations } from '../src/admin/index.ts';
import { BaseCommand, configFlag, controllerFlags, controllerOption, dataDirFlag } from '../src/cli/index.ts';
import { formatBytes } from '../src/config/index.ts';

export default class Show extends BaseCommand {
  static override description = 'Show one object: files, pieces held (bitmap), magnet link, trackers and web seeds.';

  static override examples = [
    '<%= config.bin %> show movie.mp4',
    '<%= config.bin %> show 3f786850e387550fdab836ed7e6dc881de23001b --json',
  ];

  static override args = { id: Args.string({ description: 'Info hash or name.', required: true, ignoreStdin: true }) };

  static override flags = { config: configFlag, 'data-dir': dataDirFlag, ...controllerFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Show);
    const d = await withOperations(
      { dataDir: flags['data-dir'], mode: 'read', ...controllerOption(flags, flags['data-dir']) },
      (ops) => ops.show(args.id),
    );
    const text = [
      `name        ${d.name}`,
      `info hash   ${d.infoHash}`,
      `size        ${formatBytes(d.length)} (${d.length} bytes)`,
      `pieces      ${d.piecesHeld}/${d.pieces} held, ${formatBytes(d.pieceLength)} each`,
      `held        ${d.held || '(none)'}`,
      `added       ${d.addedAt}`,
      `expires     ${d.expiresAt ?? 'never'}`,
      `source      ${d.source ?? '-'}`,
      `magnet      ${d.magnet}`,
      ...d.trackers.map((tier, i) => `tracker     tier ${i}: ${tier.join(' ')}`),
      ...d.webSeeds.map((url) => `web seed    ${url}`),
      ...(d.transfer === null
        ? []
        : [
            `served      ${formatBytes(d.transfer.uploaded)} to peers and HTTP clients, pulled ${formatBytes(d.transfer.downloaded)} from the origin, since ${d.transfer.since}`,
          ]),
      'files',
      ...d.fileList.map((f) => `  ${formatBytes(f.length).padStart(10)}  ${f.path}`),
    ].join('\n');
    this.emit(d, text);
  }
}
