// Store commands find the store where the agent does: --data-dir, else EDGEPEER_DATA_DIR, else the config
// file's dataDir (--config, EDGEPEER_CONFIG), else the default.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';

let dir: string;
let configFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-config-data-dir-'));
  await writeFile(join(dir, 'clip.bin'), 'configured');
  const ingested = await edgepeer(['ingest', join(dir, 'clip.bin'), '--data-dir', join(dir, 'store')]);
  expect(ingested.code, ingested.stderr).toBe(0);
  // Relative to the file's folder, as the agent reads it.
  configFile = join(dir, 'edge.yaml');
  await writeFile(configFile, 'dataDir: store\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the config file's dataDir", () => {
  it('is the store of ls, show and status when --config names the file', async () => {
    const listed = await edgepeer(['ls', '--config', configFile, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.lines.map((line) => line.name)).toEqual(['clip.bin']);
    const shown = await edgepeer(['show', 'clip.bin', '--config', configFile, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
  });

  it('is found through EDGEPEER_CONFIG too, and --data-dir or EDGEPEER_DATA_DIR still win', async () => {
    const viaEnv = await edgepeer(['ls', '--json'], { env: { EDGEPEER_CONFIG: configFile, EDGEPEER_DATA_DIR: '' } });
    expect(viaEnv.lines.map((line) => line.name)).toEqual(['clip.bin']);
    const flagWins = await edgepeer(['ls', '--config', configFile, '--data-dir', join(dir, 'other'), '--json']);
    expect(flagWins.code).toBe(4);
    expect(flagWins.lines[0]?.error).toMatchObject({
      message: expect.stringContaining(`no store at ${join(dir, 'other')}`),
    });
  });

  it('is an error when the file named does not exist (exit 6)', async () => {
    const missing = await edgepeer(['ls', '--config', join(dir, 'nope.yaml'), '--json']);
    expect(missing.code).toBe(6);
  });
});
