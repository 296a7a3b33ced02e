// Logs as an operator reads them: JSON lines for machines, readable lines on a terminal, fields kept in both.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/cli/logger.ts';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('createLogger', () => {
  it('writes JSON lines with the fields', async () => {
    const out = capture();
    createLogger('info', { format: 'json', destination: out.stream }).info({ port: 6881 }, 'peer wire: listening');
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(out.text().trim())).toMatchObject({ level: 30, port: 6881, msg: 'peer wire: listening' });
  });

  it('writes readable lines with the level, message and fields in pretty format', async () => {
    const out = capture();
    createLogger('info', { format: 'pretty', destination: out.stream }).warn(
      { tracker: 'http://t/announce' },
      'tracker unreachable',
    );
    await new Promise((resolve) => setImmediate(resolve));
    const text = out.text();
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: tracker unreachable\n/);
    expect(text).toContain('tracker: "http://t/announce"');
    expect(text).not.toContain('{"level"');
  });

  it('follows EDGEPEER_LOG_FORMAT', async () => {
    const out = capture();
    const previous = process.env.EDGEPEER_LOG_FORMAT;
    process.env.EDGEPEER_LOG_FORMAT = 'pretty';
    try {
      createLogger('info', { destination: out.stream }).info('hello');
    } finally {
      if (previous === undefined) delete process.env.EDGEPEER_LOG_FORMAT;
      else process.env.EDGEPEER_LOG_FORMAT = previous;
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(out.text()).toMatch(/INFO: hello/);
  });
});
