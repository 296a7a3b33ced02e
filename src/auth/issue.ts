// Issuing one token (for `edgepeer token sign`, scripts, a portal, the tracker): the key read from its file,
// every input checked with a message naming it.
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors/index.ts';
import { type KeySpec, parseKeySpec, readKey } from './keys.ts';
import { isSubscriber, pathPrefixProblem, signToken, TOKEN_NAME } from './token.ts';

export interface IssueRequest {
  /** `ID=FILE`. */
  key: string;
  /** Path prefixes the token opens (an object URL, `/pieces/<info hash>/`, ...). */
  paths: string[];
  /** Lifetime in ms from `now`. */
  expiresInMs: number;
  /** The one client address it is good for. */
  address?: string;
  /** Who it is issued to (an IMS public identity or an account), carried into accounting records. */
  subscriber?: string;
  /** ms since the epoch; default now. */
  now?: number;
}

export interface IssuedToken {
  token: string;
  keyId: string;
  paths: string[];
  /** ISO 8601. */
  expiresAt: string;
  address: string | null;
  subscriber: string | null;
  /** `__token__=<token>`, to append to a URL's query. */
  query: string;
}

export async function issueToken(request: IssueRequest): Promise<IssuedToken> {
  const spec: KeySpec | null = parseKeySpec(request.key);
  if (spec === null) {
    throw new InvalidArgumentError(
      `--key "${request.key}" is not ID=FILE (ID: letters, digits, ".", "_" or "-", at most 64)`,
      { subject: request.key },
    );
  }
  if (request.paths.length === 0) throw new InvalidArgumentError('--path is needed: the path prefix the token opens');
  for (const path of request.paths) {
    const problem = pathPrefixProblem(path);
    if (problem !== null) throw new InvalidArgumentError(`--path: ${problem}`, { subject: path });
  }
  if (request.address !== undefined && isIP(request.address) === 0) {
    throw new InvalidArgumentError(`--ip "${request.address}" is not an IPv4 or IPv6 address`, {
      subject: request.address,
    });
  }
  if (request.subscriber !== undefined && !isSubscriber(request.subscriber)) {
    throw new InvalidArgumentError(
      `--subscriber "${request.subscriber}" must be 1 to 128 letters, digits or . _ @ : + -`,
      { subject: request.subscriber },
    );
  }
  if (!(request.expiresInMs > 0)) throw new InvalidArgumentError('--expires must be more than 0 s');
  const key = await readKey(spec);
  const expires = Math.floor(((request.now ?? Date.now()) + request.expiresInMs) / 1000);
  const token = signToken(
    {
      expires,
      paths: request.paths,
      keyId: spec.id,
      ...(request.address === undefined ? {} : { address: request.address.toLowerCase() }),
      ...(request.subscriber === undefined ? {} : { subscriber: request.subscriber }),
    },
    key,
  );
  return {
    token,
    keyId: spec.id,
    paths: request.paths,
    expiresAt: new Date(expires * 1000).toISOString(),
    address: request.address ?? null,
    subscriber: request.subscriber ?? null,
    query: `${TOKEN_NAME}=${token}`,
  };
}
