// Holds many peer connections to a wire server at once for scripts/bench/wire.sh: IDLE peers (each from
// its own loopback address 127.1.x.y, so the default per-IP limit holds) that only handshake and stay,
// and DOWNLOADERS that each fetch MIB mebibytes in 16 KiB blocks with DEPTH requests in flight. Samples the
// server's RSS (/proc/PID/status) before, with the idle peers connected, and at its peak while downloading.
//
// usage: node scripts/bench/wire-crowd.ts PORT TORRENT SERVER_PID [--idle 990] [--downloaders 10] [--mib 256]
// prints one JSON line.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { parseTorrent } from '../../src/metainfo/index.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    idle: { type: 'string', default: '990' },
    downloaders: { type: 'string', default: '10' },
    mib: { type: 'string', default: '256' },
    depth: { type: 'string', default: '250' },
  },
});
const [portText, torrentPath, pidText] = positionals;
if (portText === undefined || torrentPath === undefined || pidText === undefined) {
  console.error(
    'usage: node scripts/bench/wire-crowd.ts PORT TORRENT SERVER_PID [--idle N] [--downloaders N] [--mib N]',
  );
  process.exit(2);
}
const port = Number(portText);
const serverPid = Number(pidText);
const metainfo = parseTorrent(readFileSync(torrentPath));
const BLOCK = 16 * 1024;
const idleCount = Number(values.idle);
const downloaderCount = Number(values.downloaders);
const bytesEach = Number(values.mib) * 1024 * 1024;
const depth = Number(values.depth);

function rssMiB(): number {
  const status = readFileSync(`/proc/${serverPid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

function handshake(): Buffer {
  const reserved = Buffer.alloc(8);
  reserved[5] = 0x10;
  reserved[7] = 0x04;
  const peerId = Buffer.from(`-XX0001-${Math.random().toString(36).slice(2, 14).padEnd(12, '0')}`);
  return Buffer.concat([
    Buffer.from([19]),
    Buffer.from('BitTorrent protocol'),
    reserved,
    Buffer.from(metainfo.infoHash, 'hex'),
    peerId,
  ]);
}

/**
 * A peer from `localAddress`: one parser per socket from its first byte (skips the 68-byte handshake, then
 * reads 5-byte headers and skips payloads without copying), counting piece messages.
 */
interface Peer {
  socket: Socket;
  handshaken: Promise<void>;
  /** Sends interested, then keeps `depth` block requests in flight until `bytesEach` arrived. */
  download(offsetSeed: number): Promise<number>;
}

function openPeer(localAddress: string): Peer {
  const socket = connect({ port, host: '127.0.0.1', localAddress, noDelay: true });
  socket.on('error', (err) => console.error(`peer from ${localAddress}: ${err.message}`));
  socket.on('connect', () => socket.write(handshake()));
  let onHandshake!: () => void;
  const handshaken = new Promise<void>((resolve) => {
    onHandshake = resolve;
  });
  let onUnchoke: (() => void) | null = null;
  let onPieces: ((n: number) => void) | null = null;
  const header = Buffer.alloc(5);
  let headerHave = 0;
  let skip = 68;
  let inHandshake = true;
  let skippingPiece = false;
  socket.on('data', (chunk: Buffer) => {
    let i = 0;
    let arrived = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const take = Math.min(skip, chunk.length - i);
        skip -= take;
        i += take;
        if (skip > 0) continue;
        if (inHandshake) {
          inHandshake = false;
          onHandshake();
        } else if (skippingPiece) {
          skippingPiece = false;
          arrived++;
        }
        continue;
      }
      header[headerHave++] = chunk[i++]!;
      if (headerHave === 4 && header.readUInt32BE(0) === 0) headerHave = 0; // keep-alive
      if (headerHave < 5) continue;
      headerHave = 0;
      skip = header.readUInt32BE(0) - 1;
      if (header[4] === 7) skippingPiece = true;
      if (header[4] === 1 && onUnchoke !== null) {
        const start = onUnchoke;
        onUnchoke = null;
        start();
      }
    }
    if (arrived > 0) onPieces?.(arrived);
  });

  function download(offsetSeed: number): Promise<number> {
    const totalBlocks = bytesEach / BLOCK;
    const blocksPerPiece = metainfo.pieceLength / BLOCK;
    const objectBlocks = Math.floor(metainfo.length / metainfo.pieceLength) * blocksPerPiece;
    let sent = 0;
    let received = 0;
    const requestMore = (n: number): void => {
      const batch = Buffer.allocUnsafe(17 * n);
      for (let k = 0; k < n; k++) {
        const block = (offsetSeed + sent++) % objectBlocks;
        const o = k * 17;
        batch.writeUInt32BE(13, o);
        batch[o + 4] = 6;
        batch.writeUInt32BE(Math.floor(block / blocksPerPiece), o + 5);
        batch.writeUInt32BE((block % blocksPerPiece) * BLOCK, o + 9);
        batch.writeUInt32BE(BLOCK, o + 13);
      }
      socket.write(batch);
    };
    return new Promise((resolve) => {
      onUnchoke = () => requestMore(Math.min(depth, totalBlocks));
      onPieces = (n) => {
        received += n;
        const more = Math.min(n, totalBlocks - sent);
        if (more > 0) requestMore(more);
        if (received >= totalBlocks) resolve(received * BLOCK);
      };
      socket.write(Buffer.from([0, 0, 0, 1, 2])); // interested
    });
  }

  return { socket, handshaken, download };
}

setTimeout(() => {
  console.error('wire-crowd: not done after 300 s');
  process.exit(1);
}, 300_000).unref();

const rssBefore = rssMiB();
const connectStarted = performance.now();
const idle: Peer[] = [];
for (let i = 0; i < idleCount; i += 50) {
  const batch: Peer[] = [];
  for (let j = i; j < Math.min(i + 50, idleCount); j++) {
    batch.push(openPeer(`127.1.${Math.floor(j / 250)}.${(j % 250) + 1}`));
  }
  await Promise.all(batch.map((peer) => peer.handshaken));
  idle.push(...batch);
}
const connectSeconds = (performance.now() - connectStarted) / 1000;
const rssIdle = rssMiB();

const downloaders = Array.from({ length: downloaderCount }, (_, i) => openPeer(`127.2.0.${i + 1}`));
await Promise.all(downloaders.map((peer) => peer.handshaken));
let rssPeak = rssMiB();
const sampler = setInterval(() => {
  rssPeak = Math.max(rssPeak, rssMiB());
}, 100);
const started = performance.now();
const downloaded = await Promise.all(downloaders.map((peer, i) => peer.download(i * 7919)));
const bytes = downloaded.reduce((a, b) => a + b, 0);
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
rssPeak = Math.max(rssPeak, rssMiB());
const stillOpen = idle.filter((peer) => !peer.socket.destroyed).length;
console.log(
  JSON.stringify({
    idle: idleCount,
    downloaders: downloaderCount,
    connections: idleCount + downloaderCount,
    idleStillOpen: stillOpen,
    connectSeconds: Number(connectSeconds.toFixed(2)),
    downloadSeconds: Number(seconds.toFixed(2)),
    bytes,
    aggregateMBps: Number((bytes / seconds / 1e6).toFixed(0)),
    rssMiB: { before: Math.round(rssBefore), idleConnected: Math.round(rssIdle), peak: Math.round(rssPeak) },
  }),
);
for (const peer of [...idle, ...downloaders]) peer.socket.destroy();
