import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log/index.ts';
import { captureLog } from '../helpers/log.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

async function sourceFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

describe('Logger', () => {
  it('is what a pino logger is, fields first, and the fields reach the output', () => {
    const log = captureLog();
    const logger: Logger = log.logger;
    logger.warn({ infoHash: 'ab'.repeat(20), error: 'origin answered 500' }, 'pull-through failed');
    expect(log.lines).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'pull-through failed',
        infoHash: 'ab'.repeat(20),
        error: 'origin answered 500',
      }),
    ]);
    // pino's own type accepts the message first and then drops the object; ours does not compile it.
    // @ts-expect-error the fields come first
    const wrongWay = () => logger.warn('pull-through failed', { infoHash: 'x' });
    expect(wrongWay).toBeTypeOf('function');
  });

  it('is the only logger type in src', async () => {
    const others: string[] = [];
    for (const file of await sourceFiles(SRC)) {
      if (file.startsWith(join(SRC, 'log'))) continue;
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(/(?:interface\s+(\w*Logger)\b|type\s+(\w*Logger)\s*=)/g)) {
        others.push(`${file}: ${match[1] ?? match[2]}`);
      }
    }
    expect(others).toEqual([]);
  });
});
