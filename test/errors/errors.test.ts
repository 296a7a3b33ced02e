import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  DiskFullError,
  EdgepeerError,
  ERRORS,
  type ErrorCode,
  ExitCode,
  exitCodeForErrorCode,
  fromSystemError,
  httpStatusFor,
  isEdgepeerError,
  NotFoundError,
  SourceUnreadableError,
} from '../../src/errors/index.ts';

describe('errors', () => {
  it('carries a stable code, an exit code and the subject', () => {
    const err = new NotFoundError('no object abc', { subject: 'abc' });
    expect(err).toBeInstanceOf(EdgepeerError);
    expect(err.code).toBe('EDGEPEER_NOT_FOUND');
    expect(err.exitCode).toBe(ExitCode.notFound);
    expect(err.toJSON()).toEqual({ code: 'EDGEPEER_NOT_FOUND', message: 'no object abc', subject: 'abc' });
  });

  it('maps system errors to typed errors naming the subject', () => {
    const enospc = Object.assign(new Error('write failed'), { code: 'ENOSPC' });
    const mapped = fromSystemError(enospc, '/data/x');
    expect(mapped).toBeInstanceOf(DiskFullError);
    expect(mapped.message).toContain('/data/x');
    expect(fromSystemError(Object.assign(new Error('x'), { code: 'ENOENT' }), 'f')).toBeInstanceOf(
      SourceUnreadableError,
    );
  });

  it('recognises errors from another copy of the module by shape', () => {
    expect(isEdgepeerError({ code: 'EDGEPEER_X', exitCode: 3, message: 'm' })).toBe(true);
    expect(isEdgepeerError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
  });
});

describe('the error catalogue', () => {
  const codes = Object.keys(ERRORS) as ErrorCode[];
  const exitCodes = new Set<number>(Object.values(ExitCode));

  it.each(codes)('%s has a documented exit code, an HTTP error status and a message', (code) => {
    const row = ERRORS[code];
    expect(exitCodes.has(row.exitCode)).toBe(true);
    expect(row.exitCode).not.toBe(ExitCode.ok);
    expect(Number.isInteger(row.httpStatus)).toBe(true);
    expect(row.httpStatus).toBeGreaterThanOrEqual(400);
    expect(row.httpStatus).toBeLessThan(600);
    expect(row.message.trim().length).toBeGreaterThan(0);
  });

  it('is where every error and every code known only by name gets its exit code', () => {
    for (const code of codes) {
      expect(new EdgepeerError(code, 'm').exitCode, code).toBe(ERRORS[code].exitCode);
      expect(exitCodeForErrorCode(code), code).toBe(ERRORS[code].exitCode);
      expect(EdgepeerError.reported({ code, message: 'm' }).exitCode, code).toBe(ERRORS[code].exitCode);
      expect(httpStatusFor(new EdgepeerError(code, 'm')), code).toBe(ERRORS[code].httpStatus);
    }
    // The codes the old family rules got wrong.
    expect(exitCodeForErrorCode('EDGEPEER_TRACKER_TIMEOUT')).toBe(ExitCode.remote);
    expect(exitCodeForErrorCode('EDGEPEER_AGENT_UNREACHABLE')).toBe(ExitCode.remote);
    expect(exitCodeForErrorCode('EDGEPEER_CONFIG_INVALID')).toBe(ExitCode.config);
    expect(exitCodeForErrorCode('EDGEPEER_PARTIAL_FAILURE')).toBe(ExitCode.partial);
    expect(exitCodeForErrorCode('EDGEPEER_INTERNAL')).toBe(ExitCode.internal);
    expect(exitCodeForErrorCode('EDGEPEER_UNAUTHORIZED')).toBe(ExitCode.auth);
    // A code this version does not know (a newer agent's) is not taken for local I/O.
    expect(exitCodeForErrorCode('EDGEPEER_SOMETHING_NEW')).toBe(ExitCode.internal);
    expect(httpStatusFor(new Error('a bug'))).toBe(500);
    // The row's message stands in when there is nothing more specific to say.
    expect(new EdgepeerError('EDGEPEER_DISK_FULL', '').message).toBe(ERRORS.EDGEPEER_DISK_FULL.message);
  });

  it("matches README's exit code table, row by row", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('### Exit codes'));
    const rows = [...table.matchAll(/^\| (\d) \| [^|]+ \|([^|]*)\|$/gm)].map((m) => ({
      exit: Number(m[1]),
      codes: [...(m[2] as string).matchAll(/`(EDGEPEER_[A-Z_]+)`/g)].map((c) => c[1]).sort(),
    }));
    expect(rows.map((r) => r.exit)).toEqual([...exitCodes].sort());
    for (const { exit, codes: listed } of rows) {
      const catalogued = codes.filter((code) => ERRORS[code].exitCode === exit).sort();
      expect(listed, `README row for exit ${exit}`).toEqual(catalogued);
    }
  });
});
