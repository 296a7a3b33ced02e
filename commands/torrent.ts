import { writeFile } from 'node:fs/promises';
import { Args, Flags } from '@oclif/core';
import { withOperations } from '../src/admin/index.ts';
import { BaseCommand, configFlag, controllerFlags, controllerOption, dataDirFlag } from '../src/cli/index.ts';
import { fromSystemError, InvalidArgumentError } from '../src/errors/index.ts';

export default class Torrent extends BaseCommand {
  static override description = 'Write the .torrent (metainfo) of an object, to a file or to stdout.';

  static override examples = [
    '<%= config.bin %> torrent movie.mp4 -o movie.torrent',
    '<%= config.bin %> torrent movie.mp4 -o movie.torrent --force',
    '<%= config.bin %> torrent 3f78...001b > x.torrent',
  ];

  static override args = { id: Args.string({ description: 'Info hash or name.', required: true, ignoreStdin: true }) };

  static override flags = {
    config: configFlag,
    'data-dir': dataDirFlag,
    ...controllerFlags,
    output: Flags.string({ char: 'o', description: 'File to write (default: stdout, or <name>.torrent with --json).' }),
    force: Flags.boolean({ description: 'Overwrite the output file if it exists.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Torrent);
    const { data, infoHash, name } = await withOperations(
      { dataDir: flags['data-dir'], mode: 'read', ...controllerOption(flags, flags['data-dir']) },
      (ops) => ops.torrent(args.id),
    );
    const output = flags.output ?? (this.jsonMode ? `${name}.torrent` : undefined);
    if (output === undefined) {
      // Bencoded bytes would garble a terminal (curl refuses binary output to one too).
      if (process.stdout.isTTY) {
        throw new InvalidArgumentError('a .torrent is binary: give -o FILE, or send stdout to a file or a pipe');
      }
      process.stdout.write(data);
      return;
    }
    await writeFile(output, data, { flag: flags.force ? 'w' : 'wx' }).catch((err) => {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new InvalidArgumentError(`${output} exists: give --force to overwrite it`, { subject: output });
      }
      throw fromSystemError(err, output);
    });
    this.emit({ infoHash, name, path: output, bytes: data.length }, `wrote ${output} (${data.length} bytes)`);
  }
}
