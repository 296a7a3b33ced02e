import { randomBytes } from 'node:crypto';
import { chmod, link, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fromSystemError, TokenFileError } from '../errors/index.ts';

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

/** Shorter tokens are refused: the agent writes 64 hex characters; a hand-made one must be as hard to guess. */
export const MIN_TOKEN_LENGTH = 32;

/** Reads the admin token, creating it (mode 0600, 32 random bytes hex) if it does not exist yet. */
export async function ensureToken(tokenFile: string): Promise<string> {
  const token = randomBytes(32).toString('hex');
  if (await createAtomically(tokenFile, `${token}\n`)) return token;
  await chmod(tokenFile, 0o600).catch(() => {});
  return readToken(tokenFile);
}

/**
 * Writes `content` to `file` unless it exists, so that `file` is never seen empty or partial: a temporary
 * file is written and synced, then linked to its name (link, unlike rename, fails if the name exists: two
 * agents starting at once keep the first token). False if `file` existed.
 */
async function createAtomically(file: string, content: string): Promise<boolean> {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temporary, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fromSystemError(err, file);
  } finally {
    await rm(temporary, { force: true });
  }
  await syncFolder(dirname(file));
  return true;
}

/** The new name survives a crash only once its folder is synced. */
async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems cannot sync a folder; the file itself is synced.
  } finally {
    await handle.close();
  }
}

export async function readToken(tokenFile: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(tokenFile, 'utf8')).trim();
  } catch (err) {
    throw fromSystemError(err, tokenFile);
  }
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new TokenFileError(
      `${tokenFile} holds no usable admin token (${token.length === 0 ? 'it is empty' : `${token.length} characters, one line of at least ${MIN_TOKEN_LENGTH} needed`}), perhaps left by a start that failed on a full disk: delete it and start the agent again, which writes a new one`,
      { subject: tokenFile },
    );
  }
  return token;
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
