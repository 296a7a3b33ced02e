import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flags } from '@oclif/core';
import { startDemo } from '../src/agent/index.ts';
import { BaseCommand, createLogger, untilStopSignal } from '../src/cli/index.ts';
import { formatBytes, LOG_LEVELS, parseSize } from '../src/config/index.ts';

export default class Demo extends BaseCommand {
  static override description =
    `Run edgepeer on its embedded defaults: the reference tracker and an agent on loopback, serving a generated sample.
It prints a magnet link and an HTTP URL that aria2c, a BitTorrent client or curl can fetch at once, and runs until Ctrl-C (then removes its temporary data unless --data-dir was given).`;

  static override examples = ['<%= config.bin %> demo', '<%= config.bin %> demo --json --sample-size 64MiB'];

  static override flags = {
    'data-dir': Flags.string({ description: 'Folder for the demo store and sample (default: a temporary folder).' }),
    'sample-size': Flags.string({ description: 'Size of the generated sample.', default: '16MiB' }),
    'log-level': Flags.string({
      description: 'Log level of the JSON logs on stderr.',
      options: [...LOG_LEVELS],
      default: 'warn',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Demo);
    const dataDir = flags['data-dir'] ?? (await mkdtemp(join(tmpdir(), 'edgepeer-demo-')));
    try {
      const logger = createLogger(flags['log-level']);
      const demo = await startDemo({
        dataDir,
        sampleBytes: parseSize(flags['sample-size'], '--sample-size'),
        logger,
      });
      const r = demo.ready;
      this.emit(
        { event: 'ready', ...r },
        [
          'edgepeer demo: a tracker and an agent on loopback, serving a generated sample.',
          '',
          `  tracker    ${r.tracker.announceUrl}`,
          `  peer wire  ${r.peer}`,
          `  http       ${r.httpBaseUrl}`,
          `  sample     ${r.sample.name}, ${formatBytes(r.sample.length)}, ${r.sample.pieces} pieces, info hash ${r.sample.infoHash}`,
          '',
          'Fetch it, from another terminal:',
          `  aria2c --seed-time=0 --enable-dht=false --bt-enable-lpd=false -d /tmp/edgepeer-download '${r.magnet}'`,
          `  curl -o ${r.sample.name} ${r.httpUrl}`,
          `  curl -s ${r.pieceUrlTemplate.replace('{index}', '0')} | sha1sum    # piece 0`,
          `             expected: ${r.sample.piece0Sha1}  (piece 0's SHA-1 in the metainfo)`,
          `  edgepeer status --data-dir ${join(r.dataDir, 'store')}`,
          '',
          'Ctrl-C stops the demo.',
        ].join('\n'),
      );
      const signal = await untilStopSignal();
      logger.info({ signal }, 'demo: stopping');
      await demo.stop();
      this.emit({ event: 'stopped', signal });
    } finally {
      if (!flags['data-dir']) await rm(dataDir, { recursive: true, force: true });
    }
  }
}
