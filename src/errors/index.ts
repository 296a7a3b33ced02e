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

  constructor(code: string, exitCode: ExitCodeValue, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.details = details;
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
    super('EDGEPEER_INVALID_ARGUMENT', ExitCode.usage, message, details);
  }
}

export class ManifestError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_MANIFEST_INVALID', ExitCode.usage, message, details);
  }
}

export class MetainfoError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_METAINFO_INVALID', ExitCode.usage, message, details);
  }
}

export class ConfigError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_CONFIG_INVALID', ExitCode.config, message, details);
  }
}

// Store

export class NotFoundError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_NOT_FOUND', ExitCode.notFound, message, details);
  }
}

export class StoreLockedError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_STORE_LOCKED', ExitCode.busy, message, details);
  }
}

export class StoreCorruptError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_STORE_CORRUPT', ExitCode.io, message, details);
  }
}

export class DiskFullError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_DISK_FULL', ExitCode.io, message, details);
  }
}

export class LocalIoError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_IO', ExitCode.io, message, details);
  }
}

// Sources and integrity

export class SourceUnreadableError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_SOURCE_UNREADABLE', ExitCode.io, message, details);
  }
}

export class OriginError extends EdgepeerError {
  /** code: EDGEPEER_ORIGIN_STATUS, _TIMEOUT, _TRUNCATED, _NO_RANGE, _UNREACHABLE */
  constructor(code: `EDGEPEER_ORIGIN_${string}`, message: string, details?: ErrorDetails) {
    super(code, ExitCode.remote, message, details);
  }
}

export class TrackerError extends EdgepeerError {
  /** code: EDGEPEER_TRACKER_FAILURE (the tracker's failure reason), _UNREACHABLE, _TIMEOUT, _STATUS, _INVALID_RESPONSE, _UNSUPPORTED */
  constructor(code: `EDGEPEER_TRACKER_${string}`, message: string, details?: ErrorDetails) {
    super(code, ExitCode.remote, message, details);
  }
}

export class HashMismatchError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_HASH_MISMATCH', ExitCode.remote, message, details);
  }
}

export class CorruptPieceError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_PIECE_CORRUPT', ExitCode.io, message, details);
  }
}

// SIP registration (IMS)

export class SipError extends EdgepeerError {
  /** code: EDGEPEER_SIP_TIMEOUT, _UNREACHABLE, _SERVER_ERROR, _REJECTED, _AUTH_UNSUPPORTED, _MALFORMED */
  constructor(code: `EDGEPEER_SIP_${string}`, message: string, details?: ErrorDetails) {
    super(code, ExitCode.remote, message, details);
  }
}

/** The registrar refused our credentials (403, or a second 401 to the same credentials). */
export class SipAuthError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_SIP_AUTH_REFUSED', ExitCode.auth, message, details);
  }
}

export class AgentUnreachableError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_AGENT_UNREACHABLE', ExitCode.remote, message, details);
  }
}

export class AgentNotRunningError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_AGENT_NOT_RUNNING', ExitCode.remote, message, details);
  }
}

// Bulk commands

export class PartialFailureError extends EdgepeerError {
  constructor(message: string, details?: ErrorDetails) {
    super('EDGEPEER_PARTIAL_FAILURE', ExitCode.partial, message, details);
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

/** The exit code for an error known only by its code (as in --json results): by the code's family. */
export function exitCodeForErrorCode(code: string): ExitCodeValue {
  if (code === 'EDGEPEER_INVALID_ARGUMENT' || code.endsWith('_INVALID')) return ExitCode.usage;
  if (code === 'EDGEPEER_NOT_FOUND') return ExitCode.notFound;
  if (code === 'EDGEPEER_STORE_LOCKED') return ExitCode.busy;
  if (code.startsWith('EDGEPEER_ORIGIN_') || code === 'EDGEPEER_HASH_MISMATCH') return ExitCode.remote;
  if (code === 'EDGEPEER_SIP_AUTH_REFUSED') return ExitCode.auth;
  if (code.startsWith('EDGEPEER_SIP_')) return ExitCode.remote;
  if (code.startsWith('EDGEPEER_')) return ExitCode.io;
  return ExitCode.internal;
}

/** Exit code of a bulk command: 0 if every item succeeded, the item's own code if the only item failed, else partial. */
export function bulkExitCode(results: ReadonlyArray<{ error?: { code: string } }>): ExitCodeValue {
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length === 0) return ExitCode.ok;
  if (results.length === 1) return exitCodeForErrorCode((failed[0] as { error: { code: string } }).error.code);
  return ExitCode.partial;
}
