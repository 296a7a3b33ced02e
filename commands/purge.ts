import { Args, Flags } from '@oclif/core';
import { type PurgeResult, withOperations } from '../src/admin/index.ts';
import { BaseCommand, configFlag, controllerFlags, controllerOption, dataDirFlag } from '../src/cli/index.ts';
import { parseDuration } from '../src/config/index.ts';
import { bulkExitCode, InvalidArgumentError } from '../src/errors/index.ts';
import { parseManifest, readManifest } from '../src/ingest/index.ts';
import { parsePieceList } from '../src/metainfo/index.ts';

export default class Purge extends BaseCommand {
  static override description = `Remove objects, or some of their pieces, from the store.
Select objects by info hash or name, by TTL (--expired), by age (--older-than), or from a manifest of ids. Peers and trackers are told of the change by a running agent.`;

  static override examples = [
    '<%= config.bin %> purge 3f786850e387550fdab836ed7e6dc881de23001b',
    '<%= config.bin %> purge movie.mp4 --pieces 0-99',
    '<%= config.bin %> purge --expired --json',
    '<%= config.bin %> purge --older-than 7d',
  ];

  static override strict = false;

  static override args = {
    id: Args.string({
      description: 'Info hash or name of an object (repeatable).',
      required: false,
      ignoreStdin: true,
    }),
  };

  static override flags = {
    config: configFlag,
    'data-dir': dataDirFlag,
    ...controllerFlags,
    pieces: Flags.string({ description: 'Purge only these pieces of the named objects, e.g. 0-99,200.' }),
    expired: Flags.boolean({ description: 'Purge every object whose TTL has run out.', default: false }),
    'older-than': Flags.string({ description: 'Purge every object added longer ago than this, e.g. 7d.' }),
    manifest: Flags.string({ description: 'File listing one id per line ("-" for stdin).' }),
  };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Purge);
    const ids = [...(argv as string[])];
    if (flags.manifest) {
      const { entries, problems } = parseManifest(await readManifest(flags.manifest), flags.manifest);
      if (problems[0]) throw problems[0].error;
      ids.push(...entries.map((e) => e.source));
    }
    if (ids.length === 0 && !flags.expired && !flags['older-than']) {
      throw new InvalidArgumentError('nothing to purge: name objects, or use --expired, --older-than or --manifest');
    }
    const request = {
      ids,
      expired: flags.expired,
      // An empty list (an unset shell variable in --pieces "$P") is an error, never "the whole object".
      ...(flags.pieces !== undefined ? { pieces: parsePieceList(flags.pieces) } : {}),
      ...(flags['older-than'] ? { olderThanMs: parseDuration(flags['older-than'], '--older-than') } : {}),
    };
    const results = await withOperations(
      { dataDir: flags['data-dir'], mode: 'write', ...controllerOption(flags, flags['data-dir']) },
      (ops) => ops.purge(request),
    );
    for (const result of results) this.report(result);
    const queued = results.filter((r) => r.status === 'queued').length;
    const done = results.filter((r) => !r.error).length - queued;
    this.note(
      `${done} purged, ${queued} queued for edges that are down, ${results.filter((r) => r.error).length} failed`,
    );
    const exitCode = bulkExitCode(results);
    if (exitCode !== 0) this.exit(exitCode);
  }

  private report(result: PurgeResult): void {
    if (this.jsonMode) this.emit(result);
    else if (result.error) process.stderr.write(`${result.status.padEnd(13)} ${result.id}: ${result.error.message}\n`);
    else if (result.status === 'queued')
      process.stdout.write(
        `${result.status.padEnd(13)} ${result.infoHash}  ${result.name}  ${result.edge} is down: it purges when back\n`,
      );
    else
      process.stdout.write(
        `${result.status.padEnd(13)} ${result.infoHash}  ${result.name}  ${result.piecesRemoved} pieces\n`,
      );
  }
}
