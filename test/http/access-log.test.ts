import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessLog, type AccessLogEntry, formatAccessLine } from '../../src/http/access-log.ts';

const ENTRY: AccessLogEntry = {
  remoteAddress: '::1',
  method: 'GET',
  target: '/objects/abc/movie.bin',
  minorVersion: 1,
  status: 206,
  bodyBytes: 16384,
  referer: undefined,
  userAgent: 'curl/7.88.1',
};

describe('access log', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-access-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the combined format, escaping what a client sent', () => {
    const at = Date.UTC(2026, 10, 22, 7, 4, 5);
    expect(formatAccessLine(ENTRY, at)).toBe(
      '::1 - - [22/Nov/2026:07:04:05 +0000] "GET /objects/abc/movie.bin HTTP/1.1" 206 16384 "-" "curl/7.88.1"\n',
    );
    const odd = { ...ENTRY, referer: 'http://x/"q"', userAgent: 'a\\b\u00e9\u0001', remoteAddress: undefined };
    expect(formatAccessLine(odd, at)).toBe(
      '- - - [22/Nov/2026:07:04:05 +0000] "GET /objects/abc/movie.bin HTTP/1.1" 206 16384 "http://x/\\x22q\\x22" "a\\x5cb\\xe9\\x01"\n',
    );
    expect(formatAccessLine({ ...ENTRY, minorVersion: null, status: 400, bodyBytes: 30 }, at)).toContain(
      ' "-" 400 30 ',
    );
  });

  it('writes batches, and goes on in a new file after the old one was moved (logrotate)', async () => {
    const path = join(dir, 'access.log');
    const log = new AccessLog(path);
    log.add(ENTRY);
    log.add({ ...ENTRY, status: 200 });
    await rename(path, `${path}.1`);
    log.reopen();
    log.add({ ...ENTRY, status: 304, bodyBytes: 0 });
    await log.close();
    const rotated = (await readFile(`${path}.1`, 'utf8')).trim().split('\n');
    const current = (await readFile(path, 'utf8')).trim().split('\n');
    // Lines waiting at the reopen go to the new file: nothing is lost either way.
    expect([...rotated, ...current].filter((line) => line !== '').map((line) => line.split('" ')[1])).toEqual([
      '206 16384 "-',
      '200 16384 "-',
      '304 0 "-',
    ]);
    expect(current.at(-1)).toContain('" 304 0 ');
  });

  it('names the file it cannot open', () => {
    expect(() => new AccessLog(join(dir, 'missing', 'access.log'))).toThrow(/missing\/access\.log/);
  });
});
