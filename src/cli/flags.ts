import { join } from 'node:path';
import { Flags } from '@oclif/core';
import { defaultDataDir } from '../config/index.ts';

/** The store's folder, shared by every command that touches the store. */
export const dataDirFlag = Flags.string({
  description: 'Folder of the content store. Env: EDGEPEER_DATA_DIR.',
  env: 'EDGEPEER_DATA_DIR',
  default: async () => defaultDataDir(),
  defaultHelp: async () => '$EDGEPEER_DATA_DIR, /var/lib/edgepeer as root, else ~/.local/share/edgepeer',
});

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
