// One catalogue of failures. Every error edgepeer raises on purpose is an EdgepeerError with a stable
// `code` (EDGEPEER_*) that scripts and tests can rely on, and an exit code the CLI uses.
// Messages are for people and may change; codes may not.

/** Exit codes of every edgepeer command. Documented in README ("Exit codes"). */
export const ExitCode = {
  ok: 0,
  /** A bug or an unexpected failure. */
  internal: 1,
  /** Bad flags, arguments or input syntax. */
  usage: 2,
  /** Some of the items a bulk command was given failed; the others were done. */
  partial: 3,
  /** The named object (or piece) is not in the store. */
  notFound: 4,
  /** The store is locked by another writer. */
  busy: 5,
  /** Configuration is invalid. */
  config: 6,
  /** A remote party (origin, tracker, registrar) failed or could not be reached. */
  remote: 7,
  /** Authentication was refused (IMS registrar 403, wrong token). */
  auth: 8,
  /** Local I/O failed (disk full, permission denied). */
  io: 9,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** One row per error code: the CLI's exit code, the admin API's HTTP status, and what it means. */
export interface ErrorRow {
  exitCode: ExitCodeValue;
  httpStatus: number;
  /** For people: what this code means (and the message when nothing more specific is known). */
  message: string;
}

/**
 * The catalogue: every code edgepeer reports, and nothing else decides an exit code or an admin API status.
 * A new code gets its row here (EdgepeerError takes only these codes) and in README's "Exit codes" table
 * (a test compares the two).
 */
export const ERRORS = {
  EDGEPEER_INTERNAL: { exitCode: ExitCode.internal, httpStatus: 500, message: 'unexpected failure (a bug)' },
  EDGEPEER_INVALID_ARGUMENT: { exitCode: ExitCode.usage, httpStatus: 400, message: 'bad flag, argument or request' },
  EDGEPEER_MANIFEST_INVALID: { exitCode: ExitCode.usage, httpStatus: 400, message: 'bad manifest line' },
  EDGEPEER_METAINFO_INVALID: { exitCode: ExitCode.usage, httpStatus: 400, message: 'bad .torrent or piece list' },
  EDGEPEER_PARTIAL_FAILURE: { exitCode: ExitCode.partial, httpStatus: 500, message: 'some items failed' },
  EDGEPEER_NOT_FOUND: { exitCode: ExitCode.notFound, httpStatus: 404, message: 'no such object, piece or route' },
  EDGEPEER_STORE_LOCKED: { exitCode: ExitCode.busy, httpStatus: 409, message: 'the store is locked by another writer' },
  EDGEPEER_CONFIG_INVALID: { exitCode: ExitCode.config, httpStatus: 500, message: 'invalid configuration' },
  EDGEPEER_TOPOLOGY_MAP_INVALID: {
    exitCode: ExitCode.config,
    httpStatus: 500,
    message: 'a network map, cost map or coverage zone file is malformed',
  },
  EDGEPEER_SIGNING_KEY_INVALID: {
    exitCode: ExitCode.config,
    httpStatus: 500,
    message: 'a URL token key file cannot be read or is too short',
  },
  EDGEPEER_TOPOLOGY_MAP_UNREACHABLE: {
    exitCode: ExitCode.remote,
    httpStatus: 502,
    message: 'a network or cost map cannot be read',
  },
  EDGEPEER_ORIGIN_STATUS: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the origin answered an error' },
  EDGEPEER_ORIGIN_TIMEOUT: { exitCode: ExitCode.remote, httpStatus: 504, message: 'the origin did not answer in time' },
  EDGEPEER_ORIGIN_TRUNCATED: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the origin sent fewer bytes' },
  EDGEPEER_ORIGIN_NO_RANGE: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the origin ignored Range' },
  EDGEPEER_ORIGIN_BAD_RANGE: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the origin sent a wrong range' },
  EDGEPEER_ORIGIN_UNREACHABLE: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the origin is unreachable' },
  EDGEPEER_HASH_MISMATCH: { exitCode: ExitCode.remote, httpStatus: 502, message: 'a piece failed its hash' },
  EDGEPEER_TRACKER_FAILURE: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the tracker refused' },
  EDGEPEER_TRACKER_UNREACHABLE: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the tracker is unreachable' },
  EDGEPEER_TRACKER_TIMEOUT: { exitCode: ExitCode.remote, httpStatus: 504, message: 'the tracker did not answer' },
  EDGEPEER_TRACKER_STATUS: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the tracker answered an error' },
  EDGEPEER_TRACKER_INVALID_RESPONSE: { exitCode: ExitCode.remote, httpStatus: 502, message: 'bad tracker answer' },
  EDGEPEER_TRACKER_UNSUPPORTED: { exitCode: ExitCode.remote, httpStatus: 502, message: 'unsupported tracker' },
  EDGEPEER_SIP_TIMEOUT: { exitCode: ExitCode.remote, httpStatus: 504, message: 'the registrar did not answer' },
  EDGEPEER_SIP_UNREACHABLE: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the registrar is unreachable' },
  EDGEPEER_SIP_SERVER_ERROR: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the registrar failed' },
  EDGEPEER_SIP_REJECTED: { exitCode: ExitCode.remote, httpStatus: 502, message: 'the registrar rejected' },
  EDGEPEER_SIP_AUTH_UNSUPPORTED: { exitCode: ExitCode.remote, httpStatus: 502, message: 'unsupported SIP auth' },
  EDGEPEER_SIP_MALFORMED: { exitCode: ExitCode.remote, httpStatus: 502, message: 'malformed SIP message' },
  EDGEPEER_AGENT_UNREACHABLE: {
    exitCode: ExitCode.remote,
    httpStatus: 502,
    message: "the agent's admin API is unreachable",
  },
  EDGEPEER_AGENT_NOT_RUNNING: { exitCode: ExitCode.remote, httpStatus: 503, message: 'no agent runs on this store' },
  EDGEPEER_AGENT_BAD_RESPONSE: {
    exitCode: ExitCode.remote,
    httpStatus: 502,
    message: "bad answer from the agent's admin API",
  },
  EDGEPEER_CONTROLLER_UNREACHABLE: {
    exitCode: ExitCode.remote,
    httpStatus: 502,
    message: 'the controller is unreachable or answered wrongly',
  },
  EDGEPEER_STATE_UNREACHABLE: {
    exitCode: ExitCode.remote,
    httpStatus: 503,
    message: 'the shared state (Redis) is unreachable or refused',
  },
  EDGEPEER_NO_EDGES: { exitCode: ExitCode.remote, httpStatus: 503, message: 'no serving edge can take it' },
  EDGEPEER_SIP_AUTH_REFUSED: {
    exitCode: ExitCode.auth,
    httpStatus: 502,
    message: 'the registrar refused our credentials',
  },
  EDGEPEER_UNAUTHORIZED: { exitCode: ExitCode.auth, httpStatus: 401, message: 'missing or wrong admin token' },
  EDGEPEER_ENROLMENT_REFUSED: {
    exitCode: ExitCode.auth,
    httpStatus: 403,
    message: 'the enrolment token is unknown, expired or used',
  },
  EDGEPEER_URL_TOKEN_REFUSED: {
    exitCode: ExitCode.auth,
    httpStatus: 403,
    message:
      'the URL token is missing, malformed, signed with an unknown key, tampered with, or not for this path or address',
  },
  EDGEPEER_URL_TOKEN_EXPIRED: { exitCode: ExitCode.auth, httpStatus: 410, message: 'the URL token has expired' },
  EDGEPEER_STORE_CORRUPT: { exitCode: ExitCode.io, httpStatus: 500, message: 'the store is damaged' },
  EDGEPEER_PIECE_CORRUPT: { exitCode: ExitCode.io, httpStatus: 500, message: 'a stored piece is damaged' },
  EDGEPEER_DISK_FULL: { exitCode: ExitCode.io, httpStatus: 507, message: 'no space left on device' },
  EDGEPEER_IO: { exitCode: ExitCode.io, httpStatus: 500, message: 'local I/O failed' },
  EDGEPEER_SOURCE_UNREADABLE: { exitCode: ExitCode.io, httpStatus: 500, message: 'a source cannot be read' },
  EDGEPEER_ADDRESS_IN_USE: { exitCode: ExitCode.io, httpStatus: 500, message: 'a listening address is in use' },
  EDGEPEER_TOKEN_INVALID: { exitCode: ExitCode.io, httpStatus: 500, message: 'the admin token file is damaged' },
} as const satisfies Record<`EDGEPEER_${string}`, ErrorRow>;

export type ErrorCode = keyof typeof ERRORS;

/** The catalogue row of a code, or INTERNAL's for a code this version does not know (e.g. from a newer agent). */
export function errorRow(code: string): ErrorRow {
  return Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode] : ERRORS.EDGEPEER_INTERNAL;
}

export interface ErrorDetails {
  /** What the error is about: a source path or URL, an info hash, a config key, a file. */
  subject?: string;
  cause?: unknown;
  [key: string]: unknown;
}

export class EdgepeerError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message || errorRow(code).message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = errorRow(code).exitCode;
    this.details = details;
  }

  /**
   * An error another process reported by code (an agent's admin API answer). A code this version does not
   * know keeps its text and gets INTERNAL's exit code.
   */
  static reported(error: { code: string; message: string; subject?: string }): EdgepeerError {
    return new EdgepeerError(error.code as ErrorCode, error.message, error.subject ? { subject: error.subject } : {});
  }

  /** Plain data for --json output and logs. */
  toJSON(): { code: string; message: string; subject?: string } {
    return this.details.subject === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, subject: this.details.subject };
  }
}

// Usage and input syntax

export class InvalidArgumentError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_INVALID_ARGUMENT', message, details);
  }
}

/** A network map, cost map or coverage zone file that is malformed: the message names the key, PID or prefix. */
export class TopologyMapError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_TOPOLOGY_MAP_INVALID', message, details);
  }
}

/** A map source (file or ALTO server) that cannot be read at all. */
export class TopologyMapUnreachableError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_TOPOLOGY_MAP_UNREACHABLE', message, details);
  }
}

export class ManifestError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_MANIFEST_INVALID', message, details);
  }
}

export class MetainfoError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_METAINFO_INVALID', message, details);
  }
}

export class ConfigError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_CONFIG_INVALID', message, details);
  }
}

// Store

export class NotFoundError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_NOT_FOUND', message, details);
  }
}

export class StoreLockedError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_STORE_LOCKED', message, details);
  }
}

export class StoreCorruptError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_STORE_CORRUPT', message, details);
  }
}

export class DiskFullError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_DISK_FULL', message, details);
  }
}

export class LocalIoError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_IO', message, details);
  }
}

// Sources and integrity

export class SourceUnreadableError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_SOURCE_UNREADABLE', message, details);
  }
}

export class OriginError extends EdgepeerError {
  /** code: EDGEPEER_ORIGIN_STATUS, _TIMEOUT, _TRUNCATED, _NO_RANGE, _UNREACHABLE */
  constructor(code: Extract<ErrorCode, `EDGEPEER_ORIGIN_${string}`>, message: string, details?: ErrorDetails) {
    super(code, message, details);
  }
}

export class TrackerError extends EdgepeerError {
  /** code: EDGEPEER_TRACKER_FAILURE (the tracker's failure reason), _UNREACHABLE, _TIMEOUT, _STATUS, _INVALID_RESPONSE, _UNSUPPORTED */
  constructor(code: Extract<ErrorCode, `EDGEPEER_TRACKER_${string}`>, message: string, details?: ErrorDetails) {
    super(code, message, details);
  }
}

export class HashMismatchError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_HASH_MISMATCH', message, details);
  }
}

export class CorruptPieceError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_PIECE_CORRUPT', message, details);
  }
}

// SIP registration (IMS)

export class SipError extends EdgepeerError {
  /** code: EDGEPEER_SIP_TIMEOUT, _UNREACHABLE, _SERVER_ERROR, _REJECTED, _AUTH_UNSUPPORTED, _MALFORMED */
  constructor(
    code: Extract<Exclude<ErrorCode, 'EDGEPEER_SIP_AUTH_REFUSED'>, `EDGEPEER_SIP_${string}`>,
    message: string,
    details?: ErrorDetails,
  ) {
    super(code, message, details);
  }
}

/** The registrar refused our credentials (403, or a second 401 to the same credentials). */
export class SipAuthError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_SIP_AUTH_REFUSED', message, details);
  }
}

export class AgentUnreachableError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_AGENT_UNREACHABLE', message, details);
  }
}

export class ControllerUnreachableError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_CONTROLLER_UNREACHABLE', message, details);
  }
}

export class StateUnreachableError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_STATE_UNREACHABLE', message, details);
  }
}

export class NoEdgesError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_NO_EDGES', message, details);
  }
}

export class EnrolmentRefusedError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_ENROLMENT_REFUSED', message, details);
  }
}

export class AgentNotRunningError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_AGENT_NOT_RUNNING', message, details);
  }
}

/** A listener (peer wire, HTTP, HTTPS, admin API, tracker) cannot bind its address. */
export class AddressInUseError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_ADDRESS_IN_USE', message, details);
  }
}

/** The admin token file exists but holds no usable token (e.g. left empty by a start on a full disk). */
export class TokenFileError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_TOKEN_INVALID', message, details);
  }
}

/** A URL token key (`--token-key ID=FILE`) cannot be read, is too short, or its id is given twice. */
export class SigningKeyError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_SIGNING_KEY_INVALID', message, details);
  }
}

/** The admin API refused the request's bearer token. */
export class UnauthorizedError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_UNAUTHORIZED', message, details);
  }
}

// Bulk commands

export class PartialFailureError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_PARTIAL_FAILURE', message, details);
  }
}

/** Maps Node's system errors (ENOSPC, EACCES, ...) on `subject` to typed errors. */
export function fromSystemError(err: unknown, subject: string): EdgepeerError {
  if (err instanceof EdgepeerError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new DiskFullError(`no space left on device while writing ${subject}`, { subject, cause: err });
    case 'ENOENT':
      return new SourceUnreadableError(`${subject}: no such file or directory`, { subject, cause: err });
    case 'EACCES':
    case 'EPERM':
      return new SourceUnreadableError(`${subject}: permission denied`, { subject, cause: err });
    case 'EISDIR':
    case 'ENOTDIR':
      return new SourceUnreadableError(`${subject}: ${reason}`, { subject, cause: err });
    default:
      return new LocalIoError(`${subject}: ${reason}`, { subject, cause: err });
  }
}

/**
 * A failure on edgepeer's own files (the data dir, the store), not on a source: never "source unreadable".
 * A permission problem says what to check.
 */
export function fromLocalError(err: unknown, path: string): EdgepeerError {
  if (err instanceof EdgepeerError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new LocalIoError(
      `${path}: ${code === 'EROFS' ? 'read-only file system' : 'permission denied'}: edgepeer writes its store there; ` +
        'check the owner and mode of the data dir (the user running edgepeer must be able to write it)',
      { subject: path, cause: err },
    );
  }
  const local = fromSystemError(err, path);
  return local instanceof SourceUnreadableError
    ? new LocalIoError(local.message, { subject: path, cause: err })
    : local;
}

/**
 * Why a listener (`what`: "peer wire", "HTTP", "admin API", "tracker") could not bind host:port, for every
 * listener the same words: the address in use, no permission, no such local address.
 */
export function fromListenError(err: unknown, what: string, host: string, port: number): EdgepeerError {
  if (err instanceof EdgepeerError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const details = { subject: where, cause: err };
  switch (code) {
    case 'EADDRINUSE':
      return new AddressInUseError(
        `${what}: cannot listen on ${where}: the address is already in use (another process listens there: stop it or choose another port)`,
        details,
      );
    case 'EACCES':
      return new LocalIoError(
        `${what}: cannot listen on ${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`,
        details,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new InvalidArgumentError(`${what}: cannot listen on ${where}: no such local address`, details);
    default:
      return new LocalIoError(
        `${what}: cannot listen on ${where}: ${err instanceof Error ? err.message : String(err)}`,
        details,
      );
  }
}

/** True for errors edgepeer raised on purpose, across copies of this module (like undici's errors). */
export function isEdgepeerError(err: unknown): err is EdgepeerError {
  return (
    err instanceof EdgepeerError ||
    (typeof err === 'object' &&
      err !== null &&
      typeof (err as { code?: unknown }).code === 'string' &&
      (err as { code: string }).code.startsWith('EDGEPEER_') &&
      typeof (err as { exitCode?: unknown }).exitCode === 'number')
  );
}

/** The exit code for an error known only by its code (as in --json results and admin API answers). */
export function exitCodeForErrorCode(code: string): ExitCodeValue {
  return errorRow(code).exitCode;
}

/** The admin API's HTTP status for an error: its code's row; 500 for anything not raised on purpose. */
export function httpStatusFor(err: unknown): number {
  return isEdgepeerError(err) ? errorRow(err.code).httpStatus : ERRORS.EDGEPEER_INTERNAL.httpStatus;
}

/** Exit code of a bulk command: 0 if every item succeeded, the item's own code if the only item failed, else partial. */
export function bulkExitCode(results: ReadonlyArray<{ error?: { code: string } }>): ExitCodeValue {
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length === 0) return ExitCode.ok;
  if (results.length === 1) return exitCodeForErrorCode((failed[0] as { error: { code: string } }).error.code);
  return ExitCode.partial;
}
