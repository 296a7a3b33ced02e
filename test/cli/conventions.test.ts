// What users of the best oclif CLIs expect: `help` and -h, completion scripts, a suggestion for a mistyped
// command (exit 127), defaults and allowed values in --help, examples, and an oclif manifest that lists
// every built command (so that --help does not import them all).
import { readdir, readFile } from 'node:fs/promises';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';

describe('CLI conventions', () => {
  it('has a help command and -h', async () => {
    const help = await edgepeer(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/COMMANDS[\s\S]*ingest[\s\S]*purge/);
    const short = await edgepeer(['ls', '-h']);
    expect(short.code).toBe(0);
    expect(short.stdout).toContain('$ edgepeer ls');
  });

  it('answers a mistyped command with exit 127 and where to look', async () => {
    const mistyped = await edgepeer(['lss']);
    expect(mistyped.code).toBe(127);
    // Coloured where the environment says colours work (CI=true does, for oclif's colour library).
    expect(stripVTControlCharacters(mistyped.stderr)).toContain('lss is not a edgepeer command');
  });

  it('prints a shell completion script for bash and zsh', async () => {
    for (const shell of ['bash', 'zsh']) {
      const script = await edgepeer(['autocomplete', 'script', shell], { env: { XDG_CACHE_HOME: '/tmp/edgepeer-ac' } });
      expect(script.code, shell).toBe(0);
      expect(script.stdout, shell).toContain('EDGEPEER_AC');
    }
  });

  it('shows each agent flag’s default and allowed values', async () => {
    const { stdout } = await edgepeer(['agent', '--help']);
    expect(stdout).toContain('<options: refuse|redirect|pull-through>');
    expect(stdout).toContain('<options: fatal|error|warn|info|debug|trace|silent>');
    expect(stdout).toMatch(/--cache-size=<value>[\s\S]*?Default: 256MiB\./);
    expect(stdout).toMatch(/--shutdown-grace=<value>[\s\S]*?Default: 5s\./);
    expect(stdout).toMatch(/--peer-mse=<option>[\s\S]*?Default: rc4\./);
    const refused = await edgepeer(['agent', '--partial-policy', 'maybe']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refuse, redirect, pull-through/);
  });

  it('gives version an example', async () => {
    const { stdout } = await edgepeer(['version', '--help']);
    expect(stdout).toMatch(/EXAMPLES[\s\S]*edgepeer version --json/);
  });

  it('ships an oclif manifest naming every built command with its flags', async () => {
    const root = new URL('../../', import.meta.url);
    const manifest = JSON.parse(await readFile(new URL('oclif.manifest.json', root), 'utf8')) as {
      commands: Record<string, { flags: Record<string, unknown> }>;
    };
    const built: string[] = [];
    async function walk(dir: URL, prefix: string[]): Promise<void> {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) await walk(new URL(`${entry.name}/`, dir), [...prefix, entry.name]);
        else if (entry.name.endsWith('.js')) built.push([...prefix, entry.name.slice(0, -3)].join(':'));
      }
    }
    await walk(new URL('dist/commands/', root), []);
    expect(Object.keys(manifest.commands).sort()).toEqual(built.sort());
    expect(Object.keys(manifest.commands.agent?.flags ?? {})).toContain('peer-mse');
  });
});
