// What the admin API accepts: every request body and path parameter is checked here (zod) before an
// operation sees it, and anything else is a 400 naming the field (EDGEPEER_INVALID_ARGUMENT).
import { z } from 'zod';
import { InvalidArgumentError } from '../errors/index.ts';
import { parsePieceList } from '../metainfo/index.ts';
import type { BulkIngestRequest } from './ingest-many.ts';
import type { PurgeRequest } from './purge.ts';

/** Longer ids, names and paths are not anything a store holds. */
const MAX_TEXT = 4096;

const text = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(MAX_TEXT, { error: `must be at most ${MAX_TEXT} characters` });
const list = (what: string) => z.array(text, { error: `must be an array of ${what}` });
// Ranges of numbers are the operation's to check (it names the flag, e.g. `--timeout`); types are ours.
const number = z.number({ error: 'must be a number' });
// A piece list as people write it ("0-99,200"), parsed into indexes; the operation checks them against
// each object. A malformed one is a 400 naming it, as on the command line.
const pieceList = text.transform((spec) => parsePieceList(spec));

const ingestBody = z.strictObject(
  {
    sources: list('sources (paths or URLs)'),
    torrentFile: text.optional(),
    infoHash: text.optional(),
    options: z
      .strictObject({
        pieceLength: number.optional(),
        pieces: pieceList.optional(),
        ttlMs: number.optional(),
        name: text.optional(),
        originTimeoutMs: number.optional(),
        private: z.boolean({ error: 'must be true or false' }).optional(),
        trackers: z.array(text).optional(),
      })
      .default({}),
  },
  { error: 'must be a JSON object' },
);

const purgeBody = z.strictObject(
  {
    ids: list('info hashes or names'),
    pieces: pieceList.optional(),
    expired: z.boolean({ error: 'must be true or false' }).optional(),
    olderThanMs: number.optional(),
  },
  { error: 'must be a JSON object' },
);

export function ingestRequest(body: unknown): BulkIngestRequest {
  return checked(ingestBody, body, 'request body') as BulkIngestRequest;
}

export function purgeRequest(body: unknown): PurgeRequest {
  return checked(purgeBody, body, 'request body') as PurgeRequest;
}

/** An object id taken from a path segment (still percent-encoded). */
export function objectId(segment: string): string {
  let id: string;
  try {
    id = decodeURIComponent(segment);
  } catch {
    throw new InvalidArgumentError(`object id in the path: "${segment.slice(0, 100)}" is not valid percent-encoding`, {
      subject: 'id',
    });
  }
  return checked(text, id, 'object id in the path');
}

function checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  const field = issue.path.map(String).join('.');
  // Unknown keys are named by the issue, not its path.
  const keys = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '';
  const subject = field || keys || what;
  const message =
    issue.code === 'unrecognized_keys'
      ? `${what}: unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}${field ? ` in ${field}` : ''}`
      : `${what}: ${field ? `${field} ` : ''}${issue.message}`;
  throw new InvalidArgumentError(message, { subject });
}
