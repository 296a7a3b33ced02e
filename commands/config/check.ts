import { Args } from '@oclif/core';
import { BaseCommand } from '../../src/cli/index.ts';
import { issuesOf, redactConfig, resolveAgentConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors/index.ts';

export default class ConfigCheck extends BaseCommand {
  static override description =
    'Check the configuration the agent would run with (config file, then EDGEPEER_* environment) and print every ' +
    'effective value with where it came from; secrets show as "(set)". Exit 0 if valid, 6 if not. ' +
    'FILE defaults to $EDGEPEER_CONFIG, else /etc/edgepeer/config.yaml or $XDG_CONFIG_HOME/edgepeer/config.yaml.';

  static override examples = [
    '<%= config.bin %> config check /etc/edgepeer/config.yaml',
    'EDGEPEER_PEER_PORT=6889 <%= config.bin %> config check --json | jq .sources',
  ];

  static override args = {
    file: Args.string({ description: 'Config file to check.', required: false }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(ConfigCheck);
    let resolved: Awaited<ReturnType<typeof resolveAgentConfig>>;
    try {
      resolved = await resolveAgentConfig({ ...(args.file === undefined ? {} : { configPath: args.file }) });
    } catch (err) {
      if (err instanceof ConfigError) {
        this.emit({ valid: false, file: err.details.file ?? null, issues: issuesOf(err) });
      }
      throw err;
    }
    const { config, sources, file, settings, warnings } = resolved;
    for (const warning of warnings) this.note(`warning: ${warning}`);
    const shown = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
    const width = Math.max(...settings.map((s) => s.key.length));
    const valueWidth = Math.min(40, Math.max(...settings.map((s) => shown(s.value).length)));
    this.emit(
      { valid: true, file, config: redactConfig(config), sources, settings, warnings },
      [
        `${file ?? '(no config file)'}: valid`,
        ...settings.map((s) => `${s.key.padEnd(width)}  ${shown(s.value).padEnd(valueWidth)}  ${s.origin}`),
      ].join('\n'),
    );
  }
}
