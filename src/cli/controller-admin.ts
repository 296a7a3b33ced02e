// How the controller's CLI commands (edges, token create) reach a running controller's admin API: by
// --controller URL and its token file, or through controller.json-style discovery in its data dir.
import { join } from 'node:path';
import { Flags } from '@oclif/core';
import { findAgent, RemoteOperations, readToken } from '../admin/index.ts';
import { defaultControllerDataDir } from '../config/index.ts';
import { AgentNotRunningError } from '../errors/index.ts';

export const controllerAdminFlags = {
  'data-dir': Flags.string({
    description: "The controller's data dir (it publishes its admin API there). Env: EDGEPEER_CONTROLLER_DATA_DIR.",
    env: 'EDGEPEER_CONTROLLER_DATA_DIR',
  }),
  controller: Flags.string({
    description: "The controller's admin API URL, instead of finding it in the data dir. Env: EDGEPEER_CONTROLLER.",
    env: 'EDGEPEER_CONTROLLER',
  }),
  'controller-token': Flags.string({
    description: "File holding the controller's admin token (default: the data dir's admin.token).",
    env: 'EDGEPEER_CONTROLLER_TOKEN_FILE',
  }),
};

/** A client of the running controller's admin API; AgentNotRunningError when none is found. */
export async function controllerAdmin(flags: {
  'data-dir'?: string | undefined;
  controller?: string | undefined;
  'controller-token'?: string | undefined;
}): Promise<RemoteOperations> {
  const dataDir = flags['data-dir'] ?? defaultControllerDataDir();
  if (flags.controller !== undefined) {
    const tokenFile = flags['controller-token'] ?? join(dataDir, 'admin.token');
    return new RemoteOperations(flags.controller.replace(/\/+$/, ''), await readToken(tokenFile));
  }
  const found = await findAgent(dataDir);
  if (found === null || found === undefined) {
    throw new AgentNotRunningError(`no controller runs on ${dataDir} (give --data-dir or --controller URL)`, {
      subject: dataDir,
    });
  }
  return new RemoteOperations(found.adminUrl, await readToken(flags['controller-token'] ?? found.tokenFile));
}
