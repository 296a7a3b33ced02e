import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Origin } from './issues.ts';
import { EXTRA_ENV, type KeyFile } from './settings.ts';

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

export const SYSTEM_CONFIG_FILE = '/etc/edgepeer/config.yaml';

export interface LocateOptions {
  /** --config: must exist. */
  configPath?: string | null;
  env?: NodeJS.ProcessEnv;
  /** Default: whether this process runs as root. */
  isRoot?: boolean;
  /** Default /etc/edgepeer/config.yaml (tests point it elsewhere). */
  systemFile?: string;
}

/** $XDG_CONFIG_HOME/edgepeer/config.yaml (~/.config/edgepeer/config.yaml). */
export function userConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'edgepeer', 'config.yaml');
}

/** Where `config init` writes when given no file: the system file as root, else the user's. */
export function defaultConfigFile(options: Omit<LocateOptions, 'configPath'> = {}): string {
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  return isRoot ? (options.systemFile ?? SYSTEM_CONFIG_FILE) : userConfigFile(options.env ?? process.env);
}

/**
 * The config file in force: --config, else $EDGEPEER_CONFIG (both must exist), else the first that exists of
 * /etc/edgepeer/config.yaml (as root) or $XDG_CONFIG_HOME/edgepeer/config.yaml then /etc/edgepeer/config.yaml
 * (as any other user, so a service account finds the system file); else none. null: no file.
 */
export function locateConfigFile(options: LocateOptions = {}): { file: string | null; origin: Origin } {
  const env = options.env ?? process.env;
  if (options.configPath === null) return { file: null, origin: { kind: 'default' } };
  const explicit: Array<[string | undefined, Origin]> = [
    [options.configPath, { kind: 'flag', name: 'config' }],
    [env[EXTRA_ENV.config] || undefined, { kind: 'env', name: EXTRA_ENV.config }],
  ];
  for (const [path, origin] of explicit) {
    if (path !== undefined) return { file: resolve(path), origin };
  }
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const systemFile = options.systemFile ?? SYSTEM_CONFIG_FILE;
  const candidates = isRoot ? [systemFile] : [userConfigFile(env), systemFile];
  const found = candidates.find((path) => existsSync(path));
  return { file: found ?? null, origin: { kind: 'default' } };
}

/** A path setting's value with its paths made absolute from `base`: a path, or named key files. */
export function resolvePaths(value: unknown, base: string): unknown {
  if (typeof value === 'string') return resolve(base, value);
  if (Array.isArray(value)) return (value as KeyFile[]).map((k) => ({ id: k.id, file: resolve(base, k.file) }));
  return value;
}
