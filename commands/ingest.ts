import { Args, Flags } from '@oclif/core';
import { prepareIngest, withOperations } from '../src/admin/index.ts';
import {
  BaseCommand,
  configFlag,
  controllerFlags,
  controllerOption,
  dataDirFlag,
  progressBar,
} from '../src/cli/index.ts';
import { formatBytes, parseDuration, parseSize } from '../src/config/index.ts';
import { bulkExitCode, InvalidArgumentError } from '../src/errors/index.ts';
import type { IngestResult } from '../src/ingest/index.ts';
import { parsePieceList } from '../src/metainfo/index.ts';

export default class Ingest extends BaseCommand {
  static override description =
    `Ingest content into the store: local files or folders, http(s) origin URLs, or a manifest.
Each source becomes a BitTorrent v1 object (SHA-1 pieces, verified) or, with --torrent / --info-hash, fills the pieces of a known object that match its hashes. One failed source is reported and the others go on; the exit code is 0 only if every source succeeded.`;

  static override examples = [
    '<%= config.bin %> ingest /srv/media/movie.mp4',
    '<%= config.bin %> ingest https://origin.example/video/ep1.mp4 --ttl 7d',
    '<%= config.bin %> ingest --manifest sources.txt --json',
    'find /srv/media -name "*.mp4" | <%= config.bin %> ingest --manifest -',
    '<%= config.bin %> ingest https://origin.example/ep1.mp4 --torrent ep1.torrent --pieces 0-99',
    '<%= config.bin %> ingest /srv/media/ep2.mp4 --private --tracker http://tracker.example:6969/$PASSKEY/announce',
  ];

  static override strict = false;

  static override args = {
    source: Args.string({
      description: 'Local path, file:// or http(s) URL (repeatable).',
      required: false,
      ignoreStdin: true,
    }),
  };

  static override flags = {
    config: configFlag,
    'data-dir': dataDirFlag,
    ...controllerFlags,
    manifest: Flags.string({ description: 'File listing one source per line ("-" for stdin); # starts a comment.' }),
    'piece-length': Flags.string({
      description:
        'Piece length of new objects (e.g. 256KiB, 1MiB). Default: by size, the least power of two from 32KiB to 16MiB that makes at most 2000 pieces (1 GiB: 1MiB).',
    }),
    torrent: Flags.string({
      description: 'Metainfo (.torrent) the sources must match; only matching pieces are kept.',
    }),
    'info-hash': Flags.string({ description: 'Info hash of an object in the store whose missing pieces to fill.' }),
    pieces: Flags.string({ description: 'Ingest only these pieces, e.g. 0-99,200 (range requests to the origin).' }),
    ttl: Flags.string({ description: 'Time to live of the ingested objects, e.g. 1h, 7d (then purge --expired).' }),
    name: Flags.string({ description: 'Name of a new object fetched from a URL (default: from the origin).' }),
    timeout: Flags.string({ description: 'Origin timeout for headers and between body chunks.', default: '30s' }),
    private: Flags.boolean({
      description:
        'Make new objects private (BEP 27: private=1, a different info hash): clients use only the --tracker URLs (no DHT, no PEX) and the agent announces them only there. Needs --tracker.',
      default: false,
    }),
    tracker: Flags.string({
      description:
        "Announce URL written into new objects' metainfo (repeatable), e.g. http://tracker:6969/<passkey>/announce.",
      multiple: true,
    }),
  };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Ingest);
    const timeoutMs = parseDuration(flags.timeout, '--timeout');
    if (flags.private && (flags.tracker ?? []).length === 0) {
      throw new InvalidArgumentError(
        '--private needs --tracker: a private object is announced only to its own trackers',
        {
          subject: '--private',
        },
      );
    }
    for (const url of flags.tracker ?? []) {
      if (!/^(https?|udp):\/\/[^/]/.test(url)) {
        throw new InvalidArgumentError(`--tracker must be an http(s) or udp announce URL, got ${url}`, {
          subject: url,
        });
      }
    }
    const options = {
      originTimeoutMs: timeoutMs,
      ...(flags['piece-length'] ? { pieceLength: pieceLengthFlag(flags['piece-length']) } : {}),
      // An empty list (an unset shell variable in --pieces "$P") is an error, never "the whole object".
      ...(flags.pieces !== undefined ? { pieces: parsePieceList(flags.pieces) } : {}),
      ...(flags.ttl ? { ttlMs: parseDuration(flags.ttl, '--ttl') } : {}),
      ...(flags.name ? { name: flags.name } : {}),
      ...(flags.private ? { private: true } : {}),
      ...(flags.tracker !== undefined && flags.tracker.length > 0 ? { trackers: flags.tracker } : {}),
    };
    const request = {
      sources: argv as string[],
      ...(flags.manifest ? { manifest: flags.manifest } : {}),
      ...(flags.torrent ? { torrentFile: flags.torrent } : {}),
      ...(flags['info-hash'] ? { infoHash: flags['info-hash'] } : {}),
    };
    const prepared = await prepareIngest({ ...request, options }, process.cwd());
    const results: IngestResult[] = [];
    const record = (result: IngestResult) => {
      results.push(result);
      this.report(result);
    };
    prepared.failures.forEach(record);
    await withOperations(
      {
        dataDir: flags['data-dir'],
        mode: 'write',
        ...controllerOption(flags, flags['data-dir']),
        originTimeoutMs: timeoutMs,
      },
      async (ops) => {
        let bar = progressBar('ingest', !this.jsonMode);
        await ops.ingest(
          prepared.request,
          (result) => {
            bar.stop();
            record(result);
            bar = progressBar('ingest', !this.jsonMode);
          },
          (progress) => bar.update(progress.bytesDone, progress.bytesTotal),
        );
        bar.stop();
      },
    );
    this.summary(results);
    const exitCode = bulkExitCode(results);
    if (exitCode !== 0) this.exit(exitCode);
  }

  private report(result: IngestResult): void {
    if (this.jsonMode) {
      this.emit(result);
      return;
    }
    if (result.status === 'failed') {
      const message = result.error?.message ?? 'failed';
      process.stderr.write(
        `failed     ${message.includes(result.source) ? message : `${result.source}: ${message}`}\n`,
      );
      return;
    }
    const line = `${result.status.padEnd(10)} ${result.infoHash}  ${result.name}  ${formatBytes(result.length ?? 0)}  ${result.piecesHeld}/${result.pieces} pieces  ${(result.durationMs / 1000).toFixed(1)}s`;
    process.stdout.write(`${line}\n           ${result.magnet}\n`);
    if (result.error) process.stderr.write(`warning    ${result.error.message}\n`);
  }

  private summary(results: IngestResult[]): void {
    const counts = new Map<string, number>();
    for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    const parts = [...counts].map(([status, n]) => `${n} ${status}`);
    this.note(`${results.length} source(s): ${parts.join(', ') || 'nothing done'}`);
  }
}

function pieceLengthFlag(text: string): number {
  const bytes = parseSize(text, '--piece-length');
  if (bytes < 16384 || bytes > 64 * 1024 * 1024 || (bytes & (bytes - 1)) !== 0) {
    throw new InvalidArgumentError(`--piece-length ${text}: use a power of two from 16KiB to 64MiB`, { subject: text });
  }
  return bytes;
}
