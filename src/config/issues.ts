import { ConfigError } from '../errors/index.ts';

/** Where a value came from: the layers of the configuration, lowest first. */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

export type Origin =
  | { kind: 'default' }
  | { kind: 'file'; file: string; line?: number }
  | { kind: 'env'; name: string }
  | { kind: 'flag'; name: string };

/** One thing wrong with the configuration, as plain data (for --json) and as a sentence (formatIssue). */
export interface ConfigIssue {
  /** The key path, e.g. peer.port; '' for the file as a whole. */
  key: string;
  /** What is wrong, e.g. "must be an integer from 0 to 65535". */
  problem: string;
  /** The offending input as JSON text; never set for secrets. */
  got?: string;
  origin: Origin;
}

export function describeOrigin(origin: Origin): string {
  switch (origin.kind) {
    case 'file':
      return origin.line === undefined ? `in ${origin.file}` : `in ${origin.file} line ${origin.line}`;
    case 'env':
      return `from ${origin.name}`;
    case 'flag':
      return `from --${origin.name}`;
    default:
      return '(default)';
  }
}

/** "peer.port: must be an integer from 0 to 65535 (got 70000) in /etc/edgepeer/config.yaml line 4" */
export function formatIssue(issue: ConfigIssue): string {
  const got = issue.got === undefined ? '' : ` (got ${issue.got})`;
  const subject = issue.key === '' ? '' : `${issue.key}: `;
  return `${subject}${issue.problem}${got} ${describeOrigin(issue.origin)}`;
}

/** Short JSON text of an input value for messages (long values cut). */
export function showInput(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function configError(issues: ConfigIssue[], file: string | null): ConfigError {
  const first = issues[0] as ConfigIssue;
  return new ConfigError(issues.map(formatIssue).join('\n'), {
    subject: first.key === '' ? (file ?? '') : first.key,
    issues,
    file,
  });
}

/** The issues a ConfigError carries (one built from the message if it came from elsewhere). */
export function issuesOf(err: ConfigError): ConfigIssue[] {
  const issues = err.details.issues;
  if (Array.isArray(issues)) return issues as ConfigIssue[];
  return [{ key: err.details.subject ?? '', problem: err.message, origin: { kind: 'default' } }];
}

/** Closest known name to a mistyped one: same letters ignoring case and _/-, or within 2 edits. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const exact = candidates.find((c) => squash(c) === squash(name));
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(squash(name), squash(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
