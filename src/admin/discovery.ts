import { randomBytes } from 'node:crypto';
import { chmod, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromSystemError } from '../errors/index.ts';

/** Written by a running agent into its data dir, so that CLI commands on that store go through it. */
export interface AgentDiscovery {
  pid: number;
  adminUrl: string;
  tokenFile: string;
  startedAt: string;
}

const DISCOVERY_FILE = 'agent.json';

export function defaultTokenFile(dataDir: string): string {
  return join(dataDir, 'admin.token');
}

/** Reads the admin token, creating it (mode 0600, 32 random bytes hex) if it does not exist yet. */
export async function ensureToken(tokenFile: string): Promise<string> {
  try {
    const handle = await open(tokenFile, 'wx', 0o600);
    const token = randomBytes(32).toString('hex');
    await handle.writeFile(`${token}\n`);
    await handle.close();
    return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(err, tokenFile);
  }
  await chmod(tokenFile, 0o600).catch(() => {});
  return readToken(tokenFile);
}

export async function readToken(tokenFile: string): Promise<string> {
  try {
    return (await readFile(tokenFile, 'utf8')).trim();
  } catch (err) {
    throw fromSystemError(err, tokenFile);
  }
}

export async function publishAgent(dataDir: string, discovery: AgentDiscovery): Promise<void> {
  const file = join(dataDir, DISCOVERY_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(discovery, null, 2)}\n`, { mode: 0o644 });
  await rename(`${file}.tmp`, file);
}

export async function unpublishAgent(dataDir: string): Promise<void> {
  await rm(join(dataDir, DISCOVERY_FILE), { force: true });
}

/** The agent running on this store, or null if none is (no file, or its process is gone). */
export async function findAgent(dataDir: string): Promise<AgentDiscovery | null> {
  let discovery: AgentDiscovery;
  try {
    discovery = JSON.parse(await readFile(join(dataDir, DISCOVERY_FILE), 'utf8')) as AgentDiscovery;
  } catch {
    return null;
  }
  if (!Number.isInteger(discovery.pid) || typeof discovery.adminUrl !== 'string') return null;
  try {
    process.kill(discovery.pid, 0);
  } catch (err) {
    // EPERM: alive but another user's; ESRCH: gone (a crashed agent left the file behind).
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return discovery;
}
