import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the store lives when neither --data-dir nor EDGEPEER_DATA_DIR says: /var/lib/edgepeer for root
 * (a server install), else the XDG data dir of the user.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EDGEPEER_DATA_DIR) return env.EDGEPEER_DATA_DIR;
  if (process.getuid?.() === 0) return '/var/lib/edgepeer';
  const xdg = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(xdg, 'edgepeer');
}
