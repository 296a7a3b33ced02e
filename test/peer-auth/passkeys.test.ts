import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PasskeyFile, PasskeyHook, parsePasskeys } from '../../src/peer-auth/index.ts';

const ALICE = 'a1b2c3d4e5f6a7b8c9d0e1f2';
const BOB = 'Zz_-0123456789abcdef';

describe('passkey files', () => {
  it('reads PASSKEY IDENTITY lines, skipping comments and blank lines', () => {
    const keys = parsePasskeys(`# subscribers\n${ALICE} sip:alice@ims.example\n\n${BOB}\ttel:+15551234 # bob\n`, 'f');
    expect([...keys]).toEqual([
      [ALICE, 'sip:alice@ims.example'],
      [BOB, 'tel:+15551234'],
    ]);
  });

  it('names every bad line by number, never printing a passkey', () => {
    const text = [
      `${ALICE} sip:alice@ims.example`,
      'short sip:bob@ims.example',
      `${BOB} alice`,
      `${ALICE} sip:again@ims.example`,
      `${BOB}`,
    ].join('\n');
    let message = '';
    try {
      parsePasskeys(text, '/etc/edgepeer/passkeys');
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code: string }).code).toBe('EDGEPEER_CONFIG_INVALID');
    }
    expect(message).toContain('/etc/edgepeer/passkeys');
    expect(message).toMatch(/line 2: the passkey must be 16-128/);
    expect(message).toMatch(/line 3: "alice" is not an IMS public identity/);
    expect(message).toMatch(/line 4: the passkey is given twice/);
    expect(message).toMatch(/line 5: expected "PASSKEY PUBLIC-IDENTITY", got 1 field/);
    expect(message).not.toContain(ALICE);
    expect(message).not.toContain(BOB);
  });

  it('reloads a file; a reload that fails keeps the old keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'passkeys-'));
    const file = join(dir, 'passkeys');
    await writeFile(file, `${ALICE} sip:alice@ims.example\n`);
    const source = await PasskeyFile.load(file);
    expect(await source.lookup(ALICE)).toBe('sip:alice@ims.example');
    await writeFile(file, `${BOB} sip:bob@ims.example\n`);
    await source.reload();
    expect(await source.lookup(ALICE)).toBeUndefined();
    expect(await source.lookup(BOB)).toBe('sip:bob@ims.example');
    await writeFile(file, 'broken\n');
    await expect(source.reload()).rejects.toThrow(/line 1/);
    expect(await source.lookup(BOB)).toBe('sip:bob@ims.example');
  });
});

describe('passkey hook', () => {
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  it('asks the hook, caches its answers, and reports a failing hook as an error', async () => {
    const asked: string[] = [];
    let failing = false;
    const server = createServer((req, res) => {
      const passkey = new URL(req.url ?? '/', 'http://x').searchParams.get('passkey') ?? '';
      asked.push(passkey);
      if (failing) return void res.writeHead(500).end();
      if (passkey === ALICE)
        return void res.writeHead(200).end(JSON.stringify({ subscriber: 'sip:alice@ims.example' }));
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => server.close());
    const hook = new PasskeyHook(`http://127.0.0.1:${(server.address() as AddressInfo).port}/passkey`);
    expect(await hook.lookup(ALICE)).toBe('sip:alice@ims.example');
    expect(await hook.lookup(ALICE)).toBe('sip:alice@ims.example');
    expect(await hook.lookup(BOB)).toBeUndefined();
    expect(await hook.lookup('not a passkey')).toBeUndefined();
    expect(asked).toEqual([ALICE, BOB]);
    failing = true;
    await hook.reload();
    await expect(hook.lookup(ALICE)).rejects.toThrow(/answered 500/);
  });
});
