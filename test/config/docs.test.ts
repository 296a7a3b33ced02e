import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { EXTRA_ENV, envName, SETTING_KEYS, SETTINGS, type SettingSpec } from '../../src/config/index.ts';

describe('docs/configuration.md', () => {
  it('documents every key with its env variable, flag and explanation', async () => {
    const doc = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const key of SETTING_KEYS) {
      const spec = SETTINGS[key] as SettingSpec;
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
      expect(row, key).toBeDefined();
      expect(row).toContain(`\`${envName(key)}\``);
      if (spec.flag) expect(row).toContain(`\`--${spec.flag}\``);
      expect(row).toContain(spec.doc.replace(/\|/g, '\\|'));
    }
    for (const name of Object.values(EXTRA_ENV)) expect(doc).toContain(name);
  });
});
