import { Flags } from '@oclif/core';
import { defaultDataDir } from '../config/index.ts';

/** The store's folder, shared by every command that touches the store. */
export const dataDirFlag = Flags.string({
  description: 'Folder of the content store. Env: EDGEPEER_DATA_DIR.',
  env: 'EDGEPEER_DATA_DIR',
  default: async () => defaultDataDir(),
  defaultHelp: async () => '$EDGEPEER_DATA_DIR, /var/lib/edgepeer as root, else ~/.local/share/edgepeer',
});
