import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  envName,
  parseConfigText,
  renderStarterConfig,
  SETTING_KEYS,
  SETTINGS,
  type SettingSpec,
  writeStarterConfig,
} from '../../src/config/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-starter-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Uncomments every key line ("  #port: 6881" -> "  port: 6881"), as a user editing the file would. */
function uncommentAll(text: string): string {
  return text.replace(/^(\s*)#([A-Za-z]\w*:)/gm, '$1$2');
}

describe('the starter config file', () => {
  const text = renderStarterConfig({ dataDir: '/srv/edgepeer' });

  it('is valid as written and changes nothing (every key is commented out)', async () => {
    expect(await parseConfigText(text, '/etc/edgepeer/config.yaml')).toEqual({ layer: new Map(), issues: [] });
  });

  it('lists every key once, with an explanation and its environment variable', () => {
    for (const key of SETTING_KEYS) {
      const name = key.split('.').at(-1) as string;
      const depth = key.split('.').length - 1;
      const keyLines = text.split('\n').filter((l) => l === `${'  '.repeat(depth)}#${name}: ${l.split(': ')[1]}`);
      expect(keyLines.length, key).toBeGreaterThanOrEqual(1);
      expect(text, key).toContain(`Env: ${envName(key)}.`);
      expect(text, key).toContain((SETTINGS[key] as SettingSpec).doc);
    }
  });

  it('uncommented, gives every default and valid examples', async () => {
    const { layer, issues } = await parseConfigText(uncommentAll(text), '/etc/edgepeer/config.yaml');
    expect(issues).toEqual([]);
    expect([...layer.keys()].sort()).toEqual([...SETTING_KEYS].sort());
    for (const key of SETTING_KEYS) {
      const spec = SETTINGS[key] as SettingSpec;
      if (spec.default !== undefined) expect(layer.get(key)?.value, key).toEqual(spec.default);
    }
    expect(layer.get('dataDir')?.value).toBe('/srv/edgepeer');
    expect(layer.get('admin.tokenFile')?.value).toBe('/srv/edgepeer/admin.token');
  });

  it('is written once, and replaced only with force', async () => {
    const file = join(dir, 'sub', 'config.yaml');
    const first = await writeStarterConfig(file, { dataDir: '/srv/edgepeer' });
    expect(first).toMatchObject({ file, replaced: false });
    expect(await readFile(file, 'utf8')).toBe(text);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    await writeFile(file, 'peer:\n  port: 1\n');
    await expect(writeStarterConfig(file)).rejects.toMatchObject({ code: 'EDGEPEER_INVALID_ARGUMENT' });
    expect(await readFile(file, 'utf8')).toBe('peer:\n  port: 1\n');
    expect(await writeStarterConfig(file, { force: true, dataDir: '/srv/edgepeer' })).toMatchObject({ replaced: true });
    expect(await readFile(file, 'utf8')).toBe(text);
  });
});
