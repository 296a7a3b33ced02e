import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { statsUrlOf, trackerSwarm } from '../../src/dashboard/index.ts';

const HASH = 'AB'.repeat(20);

describe("a tracker's view of the swarm", () => {
  it('finds the statistics beside an HTTP announce URL, and none for others', () => {
    expect(statsUrlOf('http://t.example:6969/announce', HASH)).toBe(`http://t.example:6969/stats/${'ab'.repeat(20)}`);
    expect(statsUrlOf('https://t.example/x/announce', HASH)).toBe(`https://t.example/x/stats/${'ab'.repeat(20)}`);
    expect(statsUrlOf('udp://t.example:6969/announce', HASH)).toBeNull();
    expect(statsUrlOf('http://t.example/announce.php', HASH)).toBeNull();
    expect(statsUrlOf('http://t.example/announce?passkey=1', HASH)).toBeNull();
  });

  it('takes the first tracker that answers with statistics of the swarm, skipping 404s and unknown swarms', async () => {
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/plain/')) return res.writeHead(404).end();
      if (req.url?.startsWith('/empty/')) return res.end(JSON.stringify({ version: 0, seeds: 0, pieceCopies: null }));
      res.end(JSON.stringify({ version: 4, seeds: 1, leechers: 2, pieceCopies: [2, 1, 0] }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const swarm = await trackerSwarm(
        ['udp://127.0.0.1:1/announce', `${base}/plain/announce`, `${base}/empty/announce`, `${base}/edgepeer/announce`],
        HASH,
      );
      expect(swarm).toEqual({ tracker: `${base}/edgepeer/announce`, seeds: 1, leechers: 2, pieceCopies: [2, 1, 0] });
      expect(await trackerSwarm([`${base}/plain/announce`, 'http://127.0.0.1:9/announce'], HASH)).toBeNull();
    } finally {
      server.close();
    }
  });
});
