import { describe, expect, it } from 'vitest';
import {
  DiskFullError,
  EdgepeerError,
  ExitCode,
  fromSystemError,
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
