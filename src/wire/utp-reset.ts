// uTP (BEP 29) connection attempts answered with ST_RESET on the peer port, so that clients that try uTP first
// (WebTorrent, qBittorrent, libtorrent's defaults) fall back to TCP at once instead of after their uTP
// timeout (WebTorrent waited 41 s, qBittorrent ~4 s, when nothing answered on UDP). The server speaks no
// uTP: only a SYN gets an answer, of 20 bytes, never more than the datagram it answers.
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from '../log/index.ts';

const HEADER_BYTES = 20;
const UTP_VERSION = 1;
const ST_RESET = 3;
const ST_SYN = 4;

/**
 * The ST_RESET answering a uTP ST_SYN, or null for anything else. The reset carries the SYN's connection id
 * (the initiator's receive id, what it matches replies on) and acknowledges its sequence number.
 */
export function resetForSyn(datagram: Uint8Array): Buffer | null {
  if (datagram.length < HEADER_BYTES) return null;
  const typeAndVersion = datagram[0]!;
  if (typeAndVersion >> 4 !== ST_SYN || (typeAndVersion & 0x0f) !== UTP_VERSION) return null;
  const syn = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.length);
  const reset = Buffer.alloc(HEADER_BYTES);
  reset[0] = (ST_RESET << 4) | UTP_VERSION;
  reset[1] = 0; // no extensions
  reset.writeUInt16BE(syn.readUInt16BE(2), 2); // connection_id
  reset.writeUInt32BE(Number(process.hrtime.bigint() / 1000n) >>> 0, 4); // timestamp_microseconds
  reset.writeUInt32BE(0, 8); // timestamp_difference_microseconds
  reset.writeUInt32BE(0, 12); // wnd_size
  reset.writeUInt16BE(Math.floor(Math.random() * 0x10000), 16); // seq_nr
  reset.writeUInt16BE(syn.readUInt16BE(16), 18); // ack_nr: the SYN's seq_nr
  return reset;
}

export interface UtpResetter {
  /** uTP SYNs answered. */
  readonly resets: number;
  close(): Promise<void>;
}

/**
 * Binds UDP on `host`:`port` and answers uTP SYNs with ST_RESET. Null, with a warning, if the port cannot be
 * bound (another program holds it on UDP): serving TCP does not depend on it.
 */
export async function answerUtpWithReset(host: string, port: number, logger: Logger): Promise<UtpResetter | null> {
  const socket: Socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    socket.close();
    logger.warn(
      { host, port, error: (err as Error).message },
      'peer wire: cannot bind UDP on the peer port; uTP-first clients will wait for their timeout before TCP',
    );
    return null;
  }
  let resets = 0;
  socket.on('error', () => undefined);
  socket.on('message', (datagram, remote) => {
    const reset = resetForSyn(datagram);
    if (reset === null) return;
    resets += 1;
    socket.send(reset, remote.port, remote.address);
  });
  return {
    get resets() {
      return resets;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
