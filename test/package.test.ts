// What the published package carries: the license its package.json names.
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

  it('installs no package with an install script but those package.json allows (npm ci downloads no browser)', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      allowScripts: Record<string, boolean>;
    };
    const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([path]) => path.replace(/^.*node_modules\//, ''));
    // `node` (the pinned Node 24) links its binary from the package itself; puppeteer-core has no install step.
    expect(withScripts.filter((name) => !pkg.allowScripts[name])).toEqual([]);
    expect(lock.packages['node_modules/puppeteer-core']?.hasInstallScript).toBeUndefined();
  });
});
