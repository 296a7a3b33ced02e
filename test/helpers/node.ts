import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * A path to this Node.js that `service install` accepts for a unit: the running one, unless the tree runs
 * from a temporary or hidden folder (a clone in /tmp, as CI may make); then a hard link to it (a copy across
 * file systems) in a plain folder, kept between runs.
 */
export function serviceNode(): string {
  const real = realpathSync(process.execPath);
  const temporary = ['/tmp/', '/var/tmp/', '/dev/shm/'].some((dir) => real.startsWith(dir));
  const hidden = real.split('/').some((part) => part.startsWith('.') && part.length > 1);
  if (!temporary && !hidden) return real;
  const dir = process.getuid?.() === 0 ? '/var/lib/edgepeer-test-node' : join(homedir(), 'edgepeer-test-node');
  const target = join(dir, `node-${process.versions.node}`);
  if (!existsSync(target)) {
    mkdirSync(dir, { recursive: true });
    try {
      linkSync(real, target);
    } catch {
      copyFileSync(real, target);
      chmodSync(target, 0o755);
    }
  }
  return target;
}
