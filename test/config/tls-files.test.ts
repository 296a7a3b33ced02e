import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaFile } from '../../src/config/index.ts';

const CERT = new URL('../ims/fixtures/tls-cert.pem', import.meta.url);

describe('readCaFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-ca-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns a bundle of certificates as read', async () => {
    const pem = await readFile(CERT);
    const bundle = join(dir, 'bundle.pem');
    await writeFile(bundle, Buffer.concat([pem, pem]));
    expect(await readCaFile(bundle)).toEqual(Buffer.concat([pem, pem]));
  });

  it('names the file and the fault: missing, no certificate, a damaged one', async () => {
    await expect(readCaFile(join(dir, 'missing.pem'))).rejects.toThrow(/missing\.pem/);
    const empty = join(dir, 'key-only.pem');
    await writeFile(empty, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await expect(readCaFile(empty)).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message: expect.stringMatching(/key-only\.pem holds no PEM certificate/),
    });
    const pem = (await readFile(CERT, 'latin1')).replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    const damaged = join(dir, 'damaged.pem');
    await writeFile(damaged, `${await readFile(CERT, 'latin1')}${pem}`);
    await expect(readCaFile(damaged)).rejects.toThrow(/damaged\.pem: certificate 2 of 2 cannot be read/);
  });
});
