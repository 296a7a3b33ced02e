import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Faults an origin can be told to produce: the ones a well-behaved server (nginx) cannot be made to. */
export interface OriginFaults {
  /** Answer ranged requests with 200 and the whole body. */
  ignoreRange?: boolean;
  /** Close the connection after this many body bytes (once per path, then behave; always with truncateAlways). */
  truncateAfter?: number;
  truncateAlways?: boolean;
  /** Answer this status to every request. */
  status?: number;
  /** Send headers, then nothing. */
  stall?: boolean;
  /** Flip a byte at this offset of every body that covers it. */
  corruptOffset?: number;
  /** Fail this many requests with 503 before answering. */
  failFirst?: number;
}

/** A small HTTP origin serving in-memory files with Range support, and configurable faults. */
export class TestOrigin {
  readonly files = new Map<string, Buffer>();
  faults: OriginFaults = {};
  requests: Array<{ path: string; range: string | undefined }> = [];
  private server: Server | undefined;
  private truncatedOnce = new Set<string>();
  private failures = 0;

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    this.requests.push({ path, range: req.headers.range });
    const file = this.files.get(path);
    if (this.faults.status) return void res.writeHead(this.faults.status).end('fault');
    if (this.faults.failFirst !== undefined && this.failures < this.faults.failFirst) {
      this.failures++;
      return void res.writeHead(503).end('busy');
    }
    if (!file) return void res.writeHead(404).end('not found');
    let start = 0;
    let end = file.length - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && !this.faults.ignoreRange) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), file.length - 1) : file.length - 1;
      if (start >= file.length) {
        return void res.writeHead(416, { 'content-range': `bytes */${file.length}` }).end();
      }
      status = 206;
    }
    const body = Buffer.from(file.subarray(start, end + 1));
    const corrupt = this.faults.corruptOffset;
    if (corrupt !== undefined && corrupt >= start && corrupt <= end)
      body[corrupt - start] = (body[corrupt - start] ?? 0) ^ 0xff;
    const headers: Record<string, string> = { 'content-length': String(body.length), 'accept-ranges': 'bytes' };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${file.length}`;
    res.writeHead(status, headers);
    if (this.faults.stall) return void res.flushHeaders();
    const cut = this.faults.truncateAfter;
    if (cut !== undefined && cut < body.length && (this.faults.truncateAlways || !this.truncatedOnce.has(path))) {
      this.truncatedOnce.add(path);
      res.write(body.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(body);
  }
}
