// `edgepeer tracker --passkeys` as a real process: a bad passkey file refused at start naming its line,
// --passkeys without --admin-token-file a usage error, and SIGHUP reading the file again.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';
import { type RunningDaemon, startDaemon, stopDaemon } from '../helpers/daemon.ts';
import { announceQueryOf, getBencoded, peerId, text } from '../tracker/helpers.ts';

const ALICE = 'a1b2c3d4e5f6a7b8c9d0e1f2';
const BOB = 'b0b0b0b0b0b0b0b0b0b0b0b0';

describe('edgepeer tracker --passkeys', () => {
  let dir: string;
  let running: RunningDaemon | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tracker-command-'));
  });
  afterAll(async () => {
    await stopDaemon(running);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a bad passkey file naming the line (exit 6), and passkeys without the admin token (exit 2)', async () => {
    await writeFile(join(dir, 'bad'), `${ALICE} sip:alice@ims.example\n${BOB} alice\n`);
    const bad = await edgepeer([
      'tracker',
      '--port',
      '0',
      '--passkeys',
      join(dir, 'bad'),
      '--admin-token-file',
      join(dir, 'token'),
      '--json',
    ]);
    expect(bad.code).toBe(6);
    expect(bad.lines[0]).toMatchObject({ error: { code: 'EDGEPEER_CONFIG_INVALID' } });
    expect(JSON.stringify(bad.lines[0])).toContain('line 2');
    expect(bad.stdout + bad.stderr).not.toContain(BOB);
    const noToken = await edgepeer(['tracker', '--port', '0', '--passkeys', join(dir, 'bad'), '--json']);
    expect(noToken.code).toBe(2);
  });

  it('reads the passkey file again on SIGHUP', async () => {
    const file = join(dir, 'passkeys');
    await writeFile(file, `${ALICE} sip:alice@ims.example\n`);
    running = await startDaemon([
      'tracker',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--passkeys',
      file,
      '--admin-token-file',
      join(dir, 'token'),
      '--json',
    ]);
    const base = `http://127.0.0.1:${running.listening.port as number}`;
    expect(running.listening.allowListUrl).toBe(`${base}/peer-auth/allowed`);
    expect(running.listening.udpAnnounceUrl).toBeNull();
    const announce = async (passkey: string) =>
      text(
        (
          await getBencoded(
            `${base}/${passkey}/announce?${announceQueryOf({ info_hash: randomBytes(20), peer_id: peerId(1), port: 7001 })}`,
          )
        ).body['failure reason'],
      );
    expect(await announce(ALICE)).toBeUndefined();
    expect(await announce(BOB)).toBe('unknown passkey');
    await writeFile(file, `${BOB} sip:bob@ims.example\n`);
    const daemon = running;
    const reloaded = new Promise<void>((resolve) => {
      const check = (): void =>
        daemon.logs().includes('passkeys read again') ? resolve() : void daemon.child.stderr?.once('data', check);
      check();
    });
    running.child.kill('SIGHUP');
    await reloaded;
    expect(await announce(BOB)).toBeUndefined();
    expect(await announce(ALICE)).toBe('unknown passkey');
  });
});
