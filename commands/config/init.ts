import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/index.ts';
import { defaultConfigFile, renderStarterConfig, writeStarterConfig } from '../../src/config/index.ts';

export default class ConfigInit extends BaseCommand {
  static override description =
    'Write a commented starter config file: every key with its default and a one-line explanation, commented out. ' +
    'FILE defaults to /etc/edgepeer/config.yaml as root, else $XDG_CONFIG_HOME/edgepeer/config.yaml; "-" prints it.';

  static override examples = [
    '<%= config.bin %> config init',
    '<%= config.bin %> config init ./edgepeer.yaml --force',
    '<%= config.bin %> config init - | less',
  ];

  static override args = {
    file: Args.string({ description: 'Where to write the file ("-": standard output).', required: false }),
  };

  static override flags = {
    force: Flags.boolean({ description: 'Replace the file if it exists.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ConfigInit);
    if (args.file === '-') {
      const text = renderStarterConfig();
      this.emit({ file: null, text }, text.trimEnd());
      return;
    }
    const file = args.file ?? defaultConfigFile();
    const result = await writeStarterConfig(file, { force: flags.force });
    this.emit(result, `${result.replaced ? 'replaced' : 'wrote'} ${result.file}`);
    this.note(`edit it, then check it: edgepeer config check ${result.file}`);
  }
}
