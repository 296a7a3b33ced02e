import { Flags } from '@oclif/core';
import { agentJson } from '../../src/admin/index.ts';
import { BaseCommand, configFlag, dataDirFlag } from '../../src/cli/index.ts';
import { InvalidArgumentError } from '../../src/errors/index.ts';
import { type QosStatus, renderQos } from '../../src/qos/index.ts';

const rate = (description: string) =>
  Flags.string({ description: `${description} Bytes per second (5MiB, 100MB); 0: none.` });

export default class QosSet extends BaseCommand {
  static override description =
    `Change the running agent's egress limits at once, for the connections open and the next ones (docs/qos.md). Until the next SIGHUP or restart, which apply the configuration's qos.* keys again.
Exit code 0; 2 if a value is wrong (nothing is changed); 7 if no agent runs on the data dir.`;

  static override examples = [
    '<%= config.bin %> qos set --rate 100MiB',
    '<%= config.bin %> qos set --classes gold:3,bronze:1 --object-classes <info hash>=gold',
    '<%= config.bin %> qos set --alt-rate 20MiB --alt-window 09:00-18:00 --json',
  ];

  static override flags = {
    config: configFlag,
    'data-dir': dataDirFlag,
    rate: rate('Global limit (qos.rate).'),
    'wire-rate': rate('Peer wire limit (qos.wireRate).'),
    'http-rate': rate('HTTP limit (qos.httpRate).'),
    'https-rate': rate('HTTPS limit (qos.httpsRate).'),
    'object-rate': rate('Limit of each object (qos.objectRate).'),
    'client-rate': rate('Limit of each client address (qos.clientRate).'),
    'alt-rate': rate('Global limit inside --alt-window (qos.altRate).'),
    'alt-window': Flags.string({
      description: 'HH:MM-HH:MM local time for --alt-rate; "off" for none (qos.altWindow).',
    }),
    classes: Flags.string({ description: 'name:weight[:rate],... (qos.classes).' }),
    'object-classes': Flags.string({ description: '<info hash>=<class>,... (qos.objectClasses).' }),
    'subscriber-classes': Flags.string({
      description: '<subscriber>=<class>,... for requests with a signed URL token (qos.subscriberClasses).',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(QosSet);
    const changes: Record<string, unknown> = {
      rate: flags.rate,
      wireRate: flags['wire-rate'],
      httpRate: flags['http-rate'],
      httpsRate: flags['https-rate'],
      objectRate: flags['object-rate'],
      clientRate: flags['client-rate'],
      altRate: flags['alt-rate'],
      altWindow: flags['alt-window'] === 'off' ? null : flags['alt-window'],
      classes: flags.classes,
      objectClasses: flags['object-classes'],
      subscriberClasses: flags['subscriber-classes'],
    };
    for (const key of Object.keys(changes)) if (changes[key] === undefined) delete changes[key];
    if (Object.keys(changes).length === 0) {
      throw new InvalidArgumentError('nothing to change: give at least one of the flags (see --help)', {
        subject: 'flags',
      });
    }
    const status = (await agentJson(flags['data-dir'], 'POST', '/v1/qos', changes)) as QosStatus;
    this.emit(status, renderQos(status));
  }
}
