import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Reads the version of the package.json nearest above `file` (exports maps may hide package.json). */
function versionAbove(file: string, name?: string): string {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.version && (name === undefined || pkg.name === name)) return pkg.version;
    } catch {
      // no package.json at this level
    }
  }
  return 'unknown';
}

function dependencyVersion(name: string): string {
  try {
    return versionAbove(fileURLToPath(import.meta.resolve(name)), name);
  } catch {
    return 'unknown';
  }
}

/** Versions worth quoting in a bug report. */
export function versions(): Record<string, string> {
  return {
    edgepeer: versionAbove(fileURLToPath(import.meta.url), 'edgepeer'),
    node: process.versions.node,
    openssl: process.versions.openssl ?? 'unknown',
    undici: dependencyVersion('undici'),
    'bittorrent-protocol': dependencyVersion('bittorrent-protocol'),
    piscina: dependencyVersion('piscina'),
  };
}
