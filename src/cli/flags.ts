import { join } from 'node:path';
import { Flags } from '@oclif/core';
import { defaultDataDir, formatIssue, locateConfigFile, readConfigFile } from '../config/index.ts';
import { ConfigError } from '../errors/index.ts';

/** The config file a store command reads its data dir from, as the agent reads it. */
export const configFlag = Flags.string({
  description: 'Config file whose dataDir the command uses (as the agent does). Env: EDGEPEER_CONFIG.',
});

/**
 * The store's folder, shared by every command that touches the store: --data-dir, else EDGEPEER_DATA_DIR,
 * else the config file's dataDir (--config, EDGEPEER_CONFIG, the agent's default paths), else the default.
 */
export const dataDirFlag = Flags.string({
  description: 'Folder of the content store. Env: EDGEPEER_DATA_DIR.',
  env: 'EDGEPEER_DATA_DIR',
  default: async ({ flags }) => configuredDataDir(flags.config as string | undefined),
  defaultHelp: async () => "the config file's dataDir, else /var/lib/edgepeer as root, else ~/.local/share/edgepeer",
});

/** The dataDir the config file sets (a file named but not there is an error), or the default one. */
async function configuredDataDir(configPath: string | undefined): Promise<string> {
  const { file } = locateConfigFile(configPath === undefined ? {} : { configPath });
  if (file === null) return defaultDataDir();
  const { layer, issues } = await readConfigFile(file);
  const dataDir = layer.get('dataDir')?.value;
  if (typeof dataDir === 'string') return dataDir;
  const problem = issues.find((issue) => issue.key === 'dataDir' || issue.key === '');
  if (problem !== undefined) throw new ConfigError(formatIssue(problem), { subject: 'dataDir' });
  return defaultDataDir();
}

/** Store commands through a CDN controller (ingest places objects on its edges, purge reaches every holder). */
export const controllerFlags = {
  controller: Flags.string({
    description:
      "A CDN controller's admin API URL, e.g. http://127.0.0.1:7071: work on the CDN through it. Env: EDGEPEER_CONTROLLER.",
    env: 'EDGEPEER_CONTROLLER',
  }),
  'controller-token': Flags.string({
    description:
      "File holding the controller's admin token (its data dir's admin.token). Env: EDGEPEER_CONTROLLER_TOKEN_FILE.",
    env: 'EDGEPEER_CONTROLLER_TOKEN_FILE',
    dependsOn: ['controller'],
  }),
};

/** The session option for those flags: the token file defaults to the data dir's admin.token. */
export function controllerOption(
  flags: { controller?: string | undefined; 'controller-token'?: string | undefined },
  dataDir: string,
): { controller?: { url: string; tokenFile: string } } {
  if (flags.controller === undefined) return {};
  return {
    controller: { url: flags.controller, tokenFile: flags['controller-token'] ?? join(dataDir, 'admin.token') },
  };
}
