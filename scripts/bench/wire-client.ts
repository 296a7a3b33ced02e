// The raw peer wire client of the wire benchmarks (wire-overhead.ts, wire-threads.ts): no library between
// the measurement and the socket. It sends the handshake (fast extension) and interested, encodes block
// requests in batches, and counts piece messages as they stream by without copying them.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';

/** Handshake for `infoHash` (fast extension bit set), then interested. */
export function sendHandshake(socket: Socket, infoHash: string): void {
  const reserved = Buffer.alloc(8);
  reserved[7] = 0x04;
  socket.write(
    Buffer.concat([
      Buffer.from([19]),
      Buffer.from('BitTorrent protocol'),
      reserved,
      Buffer.from(infoHash, 'hex'),
      randomBytes(20),
    ]),
  );
  socket.write(Buffer.from([0, 0, 0, 1, 2]));
}

/** `count` request messages, one write: block numbers from `nextBlock`, blocks of `blockBytes` in pieces of `pieceBytes`. */
export function encodeRequests(count: number, nextBlock: () => number, pieceBytes: number, blockBytes: number): Buffer {
  const batch = Buffer.allocUnsafe(17 * count);
  for (let k = 0; k < count; k++) {
    const block = nextBlock();
    const o = k * 17;
    batch.writeUInt32BE(13, o);
    batch[o + 4] = 6;
    batch.writeUInt32BE(Math.floor((block * blockBytes) / pieceBytes), o + 5);
    batch.writeUInt32BE((block * blockBytes) % pieceBytes, o + 9);
    batch.writeUInt32BE(blockBytes, o + 13);
  }
  return batch;
}

/**
 * Counts piece messages in the server's stream: skips the 68-byte handshake, then reads 5-byte headers
 * (length, id) and skips payloads; a piece counts once its payload has gone by. `onUnchoke` is called at
 * each unchoke.
 */
export class PieceCounter {
  readonly #header = Buffer.alloc(5);
  readonly #onUnchoke: () => void;
  #headerHave = 0;
  #skip = 68;
  #skippingPiece = false;

  constructor(onUnchoke: () => void) {
    this.#onUnchoke = onUnchoke;
  }

  /** The piece messages whose payload ended in `chunk`. */
  feed(chunk: Buffer): number {
    const header = this.#header;
    let pieces = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, chunk.length - i);
        this.#skip -= take;
        i += take;
        if (this.#skip === 0 && this.#skippingPiece) {
          this.#skippingPiece = false;
          pieces++;
        }
        continue;
      }
      header[this.#headerHave++] = chunk[i++]!;
      if (this.#headerHave === 4 && header.readUInt32BE(0) === 0) this.#headerHave = 0; // keep-alive
      if (this.#headerHave < 5) continue;
      this.#headerHave = 0;
      const id = header[4];
      this.#skip = header.readUInt32BE(0) - 1;
      if (id === 7) this.#skippingPiece = true;
      if (id === 1) this.#onUnchoke();
    }
    return pieces;
  }
}
