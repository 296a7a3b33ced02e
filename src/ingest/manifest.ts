import { readFile } from 'node:fs/promises';
import { fromSystemError, ManifestError } from '../errors/index.ts';

/** One source named by a manifest, with the line it came from (for error messages). */
export interface ManifestEntry {
  source: string;
  line: number;
}

export interface ManifestProblem {
  line: number;
  text: string;
  error: ManifestError;
}

/**
 * A manifest lists one source per line: a local path or an http(s) URL. Blank lines and lines starting
 * with '#' are skipped. A malformed line is reported, and the rest still count.
 */
export function parseManifest(
  text: string,
  manifestName: string,
): { entries: ManifestEntry[]; problems: ManifestProblem[] } {
  const entries: ManifestEntry[] = [];
  const problems: ManifestProblem[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const source = raw.trim();
    if (source === '' || source.startsWith('#')) return;
    const problem = sourceProblem(source);
    if (problem) {
      problems.push({
        line,
        text: source,
        error: new ManifestError(`${manifestName} line ${line}: ${problem}`, { subject: `${manifestName}:${line}` }),
      });
    } else {
      entries.push({ source, line });
    }
  });
  return { entries, problems };
}

/** Why a string cannot be a source, or undefined if it can. */
export function sourceProblem(source: string): string | undefined {
  if (source.includes('\0')) return 'contains a NUL byte';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(source)?.[1]?.toLowerCase();
  if (scheme === undefined) return undefined;
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'file') {
    return `unsupported scheme "${scheme}:" in "${source}" (use a local path or an http(s) URL)`;
  }
  try {
    new URL(source);
  } catch {
    return `malformed URL "${source}"`;
  }
  return undefined;
}

/** Reads a manifest file, or standard input for "-". */
export async function readManifest(path: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw fromSystemError(err, `manifest ${path}`);
  }
}
