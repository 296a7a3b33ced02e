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
});
