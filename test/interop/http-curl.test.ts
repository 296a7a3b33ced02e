// curl against the agent's HTTP server: single, suffix and multiple ranges, If-Range, HEAD, 304, 416,
// resuming a download, IPv6.
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type ServedSet, SINGLE_FILE, serveObjects, stopServed, webSeedOf } from '../http/interop-fixtures.ts';

describe('curl against the HTTP server', () => {
  let served: ServedSet;
  let dir: string;
  let url: string;
  let data: Buffer;
  let etag: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-curl-'));
    served = await serveObjects(dir, [SINGLE_FILE], { host: '::' });
    const object = served.objects[0]!;
    data = object.data;
    etag = `"${object.metainfo.infoHash}"`;
    url = webSeedOf(served.base.replace('[::]', '127.0.0.1'), object) + encodeURIComponent(SINGLE_FILE.name);
  });
  afterAll(async () => {
    await stopServed(served);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs curl; returns the status, the response headers (lower-case names) and the body. */
  async function curl(args: string[], target = url) {
    const headerFile = join(dir, 'headers.txt');
    const bodyFile = join(dir, 'body.bin');
    await rm(bodyFile, { force: true });
    const { stdout } = await run('curl', [
      '-sS',
      '-g',
      '-D',
      headerFile,
      '-o',
      bodyFile,
      '-w',
      '%{http_code}',
      ...args,
      target,
    ]);
    const headerText = await readFile(headerFile, 'latin1');
    const headers: Record<string, string> = {};
    for (const line of headerText.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const body = await readFile(bodyFile).catch(() => Buffer.alloc(0));
    return { status: Number(stdout), headers, body };
  }

  it('fetches a single range', async () => {
    const { status, headers, body } = await curl(['-r', '1000-1999']);
    expect(status).toBe(206);
    expect(headers['content-range']).toBe(`bytes 1000-1999/${data.length}`);
    expect(body.equals(data.subarray(1000, 2000))).toBe(true);
  });

  it('fetches a suffix range and an open-ended range across pieces', async () => {
    const suffix = await curl(['-r', '-500']);
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(data.subarray(data.length - 500))).toBe(true);
    const open = await curl(['-r', `${data.length - 300_000}-`]);
    expect(open.status).toBe(206);
    expect(open.body.equals(data.subarray(data.length - 300_000))).toBe(true);
  });

  it('fetches several ranges as multipart/byteranges', async () => {
    const { status, headers, body } = await curl(['-r', '0-99,300000-300099']);
    expect(status).toBe(206);
    const boundary = /boundary=(\S+)/.exec(headers['content-type'] ?? '')?.[1];
    expect(boundary).toBeDefined();
    expect(Number(headers['content-length'])).toBe(body.length);
    const text = body.toString('latin1');
    expect(text).toContain(`Content-Range: bytes 0-99/${data.length}\r\n\r\n`);
    expect(text).toContain(`Content-Range: bytes 300000-300099/${data.length}\r\n\r\n`);
    expect(body.includes(data.subarray(0, 100))).toBe(true);
    expect(body.includes(data.subarray(300_000, 300_100))).toBe(true);
    expect(text.endsWith(`--${boundary}--\r\n`)).toBe(true);
  });

  it('honours If-Range with the current ETag and ignores Range with a stale one', async () => {
    const fresh = await curl(['-r', '0-9', '-H', `If-Range: ${etag}`]);
    expect(fresh.status).toBe(206);
    expect(fresh.body.equals(data.subarray(0, 10))).toBe(true);
    const stale = await curl(['-r', '0-9', '-H', 'If-Range: "stale"']);
    expect(stale.status).toBe(200);
    expect(stale.body.equals(data)).toBe(true);
  });

  it('answers HEAD with the length and validators', async () => {
    const { status, headers, body } = await curl(['-I']);
    expect(status).toBe(200);
    expect(headers['content-length']).toBe(String(data.length));
    expect(headers['accept-ranges']).toBe('bytes');
    expect(headers.etag).toBe(etag);
    expect(headers['last-modified']).toBeDefined();
    // with -I curl writes the headers to the output file: no body bytes follow them
    expect(body.toString('latin1').endsWith('\r\n\r\n')).toBe(true);
  });

  it('gets 304 for If-None-Match and for a time condition', async () => {
    expect((await curl(['-H', `If-None-Match: ${etag}`])).status).toBe(304);
    const since = await curl(['-z', new Date(Date.now() + 60_000).toUTCString()]);
    expect(since.status).toBe(304);
  });

  it('gets 416 with Content-Range for a range past the end', async () => {
    const { status, headers } = await curl(['-r', `${data.length}-`]);
    expect(status).toBe(416);
    expect(headers['content-range']).toBe(`bytes */${data.length}`);
  });

  it('resumes an interrupted download (-C -)', async () => {
    const partial = join(dir, 'resume.bin');
    await writeFile(partial, data);
    await truncate(partial, 1_234_567);
    await run('curl', ['-sS', '-C', '-', '-o', partial, url]);
    expect((await readFile(partial)).equals(data)).toBe(true);
  });

  it('works over IPv6', async () => {
    const v6 = url.replace('127.0.0.1', '[::1]');
    const { status, body } = await curl(['-r', '5-14'], v6);
    expect(status).toBe(206);
    expect(body.equals(data.subarray(5, 15))).toBe(true);
  });
});
