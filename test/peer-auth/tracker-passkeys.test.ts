// The reference tracker with passkeys: announces need a known passkey (path or query), each answered one
// puts (address, info hash, subscriber) on the allow-list, which GET /peer-auth/allowed serves behind the
// admin token and holds as a long poll.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllowList, AllowListFollower, PasskeyFile } from '../../src/peer-auth/index.ts';
import { createTracker, decodeBencode, isDictionary, type Tracker, TrackerPeerAuth } from '../../src/tracker/index.ts';
import { announceQueryOf, getBencoded, peerId, text } from '../tracker/helpers.ts';

const ALICE = 'a1b2c3d4e5f6a7b8c9d0e1f2';
const TOKEN = 'admin-token-for-tests-0123456789';

describe('reference tracker with passkeys', () => {
  let tracker: Tracker;
  let base: string;
  let peerAuth: TrackerPeerAuth;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tracker-passkeys-'));
    await writeFile(join(dir, 'passkeys'), `${ALICE} sip:alice@ims.example\n`);
    peerAuth = new TrackerPeerAuth({
      passkeys: await PasskeyFile.load(join(dir, 'passkeys')),
      allowList: new AllowList(60_000),
      adminToken: TOKEN,
    });
    tracker = createTracker({ port: 0, host: '127.0.0.1', peerAuth });
    const address = await tracker.listen();
    base = `http://127.0.0.1:${address.port}`;
    expect(address.udpAnnounceUrl).toBeNull(); // UDP carries no passkey
  });

  afterAll(async () => {
    await tracker.close();
  });

  const announce = (path: string, infoHash: Buffer, extra: Record<string, string> = {}) =>
    getBencoded(`${base}${path}?${announceQueryOf({ info_hash: infoHash, peer_id: peerId(1), port: 7001, ...extra })}`);

  it('refuses announces without a passkey or with an unknown one, with a failure reason, and counts them', async () => {
    const infoHash = randomBytes(20);
    expect(text((await announce('/announce', infoHash)).body['failure reason'])).toMatch(/needs a passkey/);
    expect(text((await announce(`/${'x'.repeat(20)}/announce`, infoHash)).body['failure reason'])).toBe(
      'unknown passkey',
    );
    expect(text((await announce('/announce', infoHash, { passkey: 'y'.repeat(20) })).body['failure reason'])).toBe(
      'unknown passkey',
    );
    expect(peerAuth.counters.unknownPasskeys).toBe(3);
    expect(peerAuth.allowList.size).toBe(0);
  });

  it('answers a known passkey in the path or the query and lists the announcer for the object', async () => {
    const first = randomBytes(20);
    const second = randomBytes(20);
    const { body } = await announce(`/${ALICE}/announce`, first);
    expect(body['failure reason']).toBeUndefined();
    expect(body['ep']).toBeUndefined(); // no multi-object announce: its body has no passkey per object
    await announce('/announce', second, { passkey: ALICE });
    expect(peerAuth.allowList.lookup('127.0.0.1', first.toString('hex'))).toBe('sip:alice@ims.example');
    expect(peerAuth.allowList.lookup('127.0.0.1', second.toString('hex'))).toBe('sip:alice@ims.example');
  });

  it('checks passkeys on the HTTP/1.1 layer: refused without a valid one, answered with one, counted alike', async () => {
    const infoHash = randomBytes(20);
    const query = (extra: Record<string, string> = {}) =>
      announceQueryOf({ info_hash: infoHash, peer_id: peerId(2), port: 7002, ...extra });
    const targets = [
      `/announce?${query()}`,
      `/${'z'.repeat(20)}/announce?${query()}`,
      `/announce?${query({ passkey: 'w'.repeat(20) })}`,
      `/${'z'.repeat(20)}/scrape?info_hash=${encodeURIComponent(infoHash.toString('latin1'))}`,
      `/${ALICE}/announce?${query()}`,
    ];
    const before = { ...peerAuth.counters };
    // One keep-alive connection: node:http would answer with Connection and Keep-Alive fields, the
    // HTTP/1.1 layer announces and scrapes go to sends neither.
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = once(socket, 'end');
    socket.write(
      targets
        .map(
          (target, i) =>
            `GET ${target} HTTP/1.1\r\nHost: t\r\n${i === targets.length - 1 ? 'Connection: close\r\n' : ''}\r\n`,
        )
        .join(''),
    );
    await ended;
    socket.destroy();
    const responses = Buffer.concat(chunks)
      .toString('latin1')
      .split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(targets.length);
    const reasons = responses.map((response) => {
      const [head = '', body = ''] = response.split('\r\n\r\n');
      expect(head).not.toMatch(/\r\nKeep-Alive:/i);
      const decoded = decodeBencode(Buffer.from(body, 'latin1'));
      return isDictionary(decoded) ? text(decoded['failure reason']) : 'not a dictionary';
    });
    expect(reasons).toEqual([
      'this tracker needs a passkey in the announce URL',
      'unknown passkey',
      'unknown passkey',
      'unknown passkey',
      undefined,
    ]);
    expect(peerAuth.counters.unknownPasskeys - before.unknownPasskeys).toBe(4);
    expect(peerAuth.counters.authorised - before.authorised).toBe(1);
    expect(peerAuth.allowList.lookup('127.0.0.1', infoHash.toString('hex'))).toBe('sip:alice@ims.example');
  });

  it('serves the allow-list behind the admin token, and an agent follows it by long poll', async () => {
    const url = `${base}/peer-auth/allowed`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const copy = new AllowList(1);
    const follower = new AllowListFollower({ url, token: TOKEN, list: copy, waitS: 20 });
    follower.start();
    try {
      await follower.firstUpdate;
      const infoHash = randomBytes(20);
      expect(copy.lookup('127.0.0.1', infoHash.toString('hex'))).toBeUndefined();
      const updated = new Promise<void>((resolve) => {
        const check = (): void =>
          void copy
            .wait(copy.version, 20_000)
            .then(() => (copy.lookup('127.0.0.1', infoHash.toString('hex')) ? resolve() : check()));
        check();
      });
      await announce(`/${ALICE}/announce`, infoHash);
      await updated;
      expect(copy.lookup('127.0.0.1', infoHash.toString('hex'))).toBe('sip:alice@ims.example');
      expect(follower.failures).toBe(0);
    } finally {
      await follower.stop();
    }
  });
});
