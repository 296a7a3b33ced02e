// One peer: its socket, its wire, its queue of requests and the loop that answers them. The loop sends
// a block only while the socket has taken what it was given (`writableLength` under `sendBufferBytes`)
// and reads a piece only when the next request needs it, so a slow peer costs at most its send buffer
// and one piece reference.
import type { Socket } from 'node:net';
import { CorruptPieceError, isEdgepeerError } from '../errors/index.ts';
import type { Logger, WarningThrottle } from '../log/index.ts';
import type { Metainfo } from '../metainfo/index.ts';
import type { Flow, Qos } from '../qos/index.ts';
import { countSetBits, whenWritten } from '../store/index.ts';
import type { CatalogObject } from '../store/types.ts';
import { allowedFastSet } from './allowed-fast.ts';
import type { ChokerPeer } from './choker.ts';
import { MalformedMessageError, metadataReply } from './metadata.ts';
import type { PeerWireLimits } from './options.ts';
import { RequestQueue } from './request-queue.ts';
import { type MseMode, ServingWire, type ServingWireSink } from './serving-wire.ts';
import { TOP_UP_SLOT_MS, type TopUpLedger, TopUpMeter } from './top-up.ts';
import type { PeerGate, PeerInfo, PeerWireStats, WirePieceCache, WireStore } from './types.ts';

/** Our extension ids (BEP 10 `m`), fixed so the hot path compares numbers. */
export const UT_METADATA_ID = 1;
export const LT_DONTHAVE_ID = 2;

/** The server's running totals: the stats that are counted, not read off live connections. */
export type WireCounters = Omit<
  PeerWireStats,
  'connections' | 'handshaking' | 'unchoked' | 'waiting' | 'slotRotations' | 'sendQueueBytes' | 'utpResets'
>;

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly limits: PeerWireLimits;
  readonly peerId: Buffer;
  readonly clientName: string;
  readonly mse: MseMode;
  readonly store: WireStore;
  readonly cache: WirePieceCache;
  readonly logger: Logger;
  /** Egress limits: a block waits for tokens (src/qos), whole; null: none. */
  readonly qos: Qos | null;
  /** Top-up rate (storage control), bytes per second; 0: off. */
  readonly topUpBytesPerSecond: number;
  /** Where the HTTP server learns of this address's HAVEs and the bytes sent it (top-up over HTTP); null: off. */
  readonly topUpLedger: TopUpLedger | null;
  /** For warnings a remote peer can cause once per connection. */
  readonly remoteWarnings: WarningThrottle;
  readonly counters: WireCounters;
  /** Coarse clock (ms), advanced by the server's sweep. */
  readonly now: number;
  /** The info hash whose SHA-1('req2' + info hash) is `req2Hash` (MSE), if the store holds it. */
  infoHashForMse(req2Hash: string): string | undefined;
  opened(connection: PeerConnection): void;
  interestChanged(connection: PeerConnection, interested: boolean): void;
  closed(connection: PeerConnection): void;
  /** Piece bytes of an object were sent. */
  uploaded(infoHash: string, bytes: number): void;
  /** Who may have piece bytes; null: everyone. */
  readonly peerGate: PeerGate | null;
  /** A peer not on the allow-list asked for piece bytes (called once per connection). */
  unauthorised(connection: PeerConnection): void;
  /** Handling the connection threw: count, log and close it. */
  internalError(connection: PeerConnection, err: unknown): void;
}

type State = 'handshake' | 'open' | 'closed';

const HEADER_LENGTH = 13;
const MSG_PIECE = 7;

export class PeerConnection implements ChokerPeer, ServingWireSink {
  readonly socket: Socket;
  readonly address: string;
  readonly port: number;
  readonly connectedAt: number;
  readonly wire: ServingWire;
  object: CatalogObject | null = null;
  /** The object's metainfo, read once at the handshake (ut_metadata answers from its info dictionary). */
  #metainfo: Metainfo | null = null;
  state: State = 'handshake';
  lastReceivedAt: number;
  lastSentAt: number;
  uploadedBytes = 0;
  /** With a peer gate: the subscriber this peer fetches for, once the gate let it in. */
  subscriber: string | undefined;
  #refusedByGate = false;

  readonly #host: ConnectionHost;
  readonly #queue: RequestQueue;
  readonly #allowedFast = new Set<number>();
  #currentIndex = -1;
  #currentPiece: Buffer | null = null;
  /** The cache's releaseSpan when it lends blocks (serving threads' slab), else null. */
  readonly #release: ((span: Uint8Array) => void) | null;
  /** Blocks lent for the writes of the batch #pump is making, given back once the socket wrote them. */
  #lentOut: Buffer[] = [];
  /** The piece the last lent block belonged to (read-ahead starts when the peer moves to another). */
  #lentIndex = -1;
  /** Pieces read ahead and not yet the current one. */
  readonly #prefetched = new Set<number>();
  #fetching = false;
  #pausedReading = false;
  /** True while a received chunk is being parsed: requests queue up and are answered after it. */
  #parsing = false;
  #infoHash = '';
  #pieceCount = 0;
  #pieceLength = 0;
  #lastPieceLength = 0;
  /** The leecher's rate from others and from us (limits.topUpBytesPerSecond), or null: top-up off. */
  readonly #topUp: TopUpMeter | null;
  #topUpTimer: NodeJS.Timeout | null = null;
  /** Says the ledger this connection closed (set at the handshake). */
  #detachLedger: (() => void) | null = null;
  /** This peer's claim on the egress limits, opened at its first block while limits are set. */
  #flow: Flow | null = null;
  readonly #resume = (): void => this.#pump();

  constructor(host: ConnectionHost, socket: Socket, address: string) {
    this.#host = host;
    this.socket = socket;
    this.address = address;
    this.port = socket.remotePort ?? 0;
    this.connectedAt = host.now;
    this.lastReceivedAt = host.now;
    this.lastSentAt = host.now;
    this.#queue = new RequestQueue(host.limits.maxQueuedRequests);
    this.#topUp = host.topUpBytesPerSecond > 0 ? new TopUpMeter(host.topUpBytesPerSecond) : null;
    this.#release = host.cache.releaseSpan?.bind(host.cache) ?? null;
    this.wire = new ServingWire(this, host.mse);
    this.wire.on('crypto-infohash', (req2Hash: string) => this.#onEncryptedHandshake(req2Hash));
    this.wire.on('handshake', (infoHash: string, peerId: string) => this.#onHandshake(infoHash, peerId));
    this.wire.on('interested', () => this.#host.interestChanged(this, true));
    this.wire.on('uninterested', () => this.#host.interestChanged(this, false));
    this.wire.on('extended', (kind: string, handshake: Record<string, unknown>) => {
      if (kind === 'handshake' && typeof handshake.upload_only === 'number' && handshake.upload_only !== 0) {
        this.close('peer is upload-only too (BEP 21)');
      }
    });
    this.wire.on('have-all', () => this.close('peer has every piece'));
    if (this.#topUp !== null || host.topUpLedger !== null) {
      const topUp = this.#topUp;
      const ledger = host.topUpLedger;
      this.wire.on('have', (index: number) => {
        if (this.#pieceLength === 0 || index >= this.#pieceCount) return;
        const bytes = index === this.#pieceCount - 1 ? this.#lastPieceLength : this.#pieceLength;
        topUp?.completed(Date.now(), bytes);
        ledger?.completed(this.address, this.#infoHash, bytes);
      });
    }
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('closed by peer'));
  }

  get queuedRequests(): number {
    return this.#queue.size;
  }

  // ServingWireSink

  send(data: Uint8Array): void {
    if (this.state === 'closed') return;
    this.lastSentAt = this.#host.now;
    this.socket.write(data);
  }

  request(pieceIndex: number, begin: number, length: number): void {
    if (this.state !== 'open') return;
    const host = this.#host;
    host.counters.requestsReceived++;
    const object = this.object!;
    if (host.peerGate !== null && this.subscriber === undefined && !this.admitted()) {
      this.#refuse(pieceIndex, begin, length);
      return;
    }
    if (
      (host.qos !== null && !host.qos.admit('wire')) || // load shedding: a new request is rejected (BEP 6)
      pieceIndex >= this.#pieceCount ||
      length === 0 ||
      length > host.limits.maxBlockLength ||
      begin + length > (pieceIndex === this.#pieceCount - 1 ? this.#lastPieceLength : this.#pieceLength) ||
      (this.wire.amChoking && !this.#allowedFast.has(pieceIndex)) ||
      !object.bitfield.get(pieceIndex)
    ) {
      this.#refuse(pieceIndex, begin, length);
      return;
    }
    if (!this.#queue.push(pieceIndex, begin, length)) {
      this.#refuse(pieceIndex, begin, length);
      return;
    }
    if (!this.#parsing) this.#pump();
  }

  /**
   * With a peer gate: asks it (until it says yes) whether this peer may have the object's piece bytes; the
   * first no is counted. Without one: true. No piece byte leaves for a peer the gate does not know.
   */
  admitted(): boolean {
    const gate = this.#host.peerGate;
    if (gate === null || this.subscriber !== undefined) return true;
    const infoHash = this.object?.infoHash;
    if (infoHash === undefined) return false;
    const subscriber = gate.lookup(this.address, infoHash);
    if (subscriber !== undefined) {
      this.subscriber = subscriber;
      return true;
    }
    if (!this.#refusedByGate) {
      this.#refusedByGate = true;
      this.#host.unauthorised(this);
    }
    return false;
  }

  /**
   * Top-up: the leecher got at least half the top-up rate from other sources over the last window, so it
   * needs its unchoke slot less than a leecher waiting with no other source (the choker lets it go early).
   * What this edge sent it over HTTP (a web seed) counts here as another source, unlike in #topUpMaySend:
   * those bytes leave the wire that much less to send, so the slot is wanted less all the same.
   */
  topUpSatisfied(): boolean {
    const topUp = this.#topUp;
    return topUp !== null && this.#topUpPaced() && topUp.allowance(Date.now()) <= this.#host.topUpBytesPerSecond / 2;
  }

  /** Storage control leaves a swarm unpaced where this edge is the only source of a wanted piece (no seed yet). */
  #topUpPaced(): boolean {
    return this.#host.topUpLedger?.paces(this.#infoHash) ?? true;
  }

  /**
   * Top-up: false, and the pump paused for a while, when the leecher gets its top-up rate from its other
   * peers (sending this block would pass the allowance).
   */
  #topUpAllows(length: number): boolean {
    if (this.#topUp === null || !this.#topUpPaced() || this.#topUpMaySend(length)) return true;
    if (this.#topUpTimer === null) {
      this.#host.counters.topUpPauses++;
      this.#topUpTimer = setTimeout(() => {
        this.#topUpTimer = null;
        this.#pump();
      }, TOP_UP_SLOT_MS);
    }
    return false;
  }

  /**
   * This connection's meter, with what HTTP (a web seed) sent the same address as the edge's own bytes: the
   * leecher's HAVEs show them only once their pieces complete, so without it the wire and HTTP together
   * could send up to twice the rate.
   */
  #topUpMaySend(length: number): boolean {
    const overHttp = this.#host.topUpLedger?.sentOverHttp(this.address, this.#infoHash) ?? 0;
    return this.#topUp!.maySend(Date.now(), length, overHttp);
  }

  cancel(pieceIndex: number, begin: number, length: number): void {
    if (this.state === 'open') this.#queue.remove(pieceIndex, begin, length);
  }

  extended(extensionId: number, payload: Uint8Array): void {
    if (this.state !== 'open' || extensionId !== UT_METADATA_ID) return; // lt_donthave from a peer: we never download
    let reply: Buffer | null;
    try {
      reply = metadataReply(this.#metainfo!.info, payload);
    } catch (err) {
      if (!(err instanceof MalformedMessageError)) throw err;
      this.malformed(err.message);
      return;
    }
    if (reply === null) return;
    const peerId = this.wire.peerExtendedMapping.ut_metadata;
    if (peerId === undefined || !Number.isInteger(peerId) || peerId <= 0 || peerId > 255) {
      this.malformed('ut_metadata request from a peer that did not announce ut_metadata');
      return;
    }
    this.#host.counters.metadataPiecesSent++;
    this.wire.extended(peerId, reply);
  }

  malformed(reason: string): void {
    if (this.state === 'closed') return;
    this.#host.counters.protocolErrors++;
    const message = 'peer wire: closing connection after a malformed message';
    this.#host.remoteWarnings.warn(message, this.#logFields({ reason }), message);
    this.close(reason, false);
  }

  notBitTorrent(): void {
    if (this.state === 'closed') return;
    this.#host.counters.notBitTorrent++;
    this.close('not a plaintext BitTorrent handshake (encrypted, MSE?)');
  }

  rc4Refused(): void {
    if (this.state === 'closed') return;
    this.#host.counters.rc4Refused++;
    this.close('encrypted handshake offering only RC4, which is not allowed');
  }

  // ChokerPeer

  setChoked(choked: boolean): void {
    if (this.state !== 'open') return;
    if (!choked) {
      this.wire.unchoke();
      return;
    }
    this.wire.choke();
    if (this.wire.hasFast) {
      // BEP 6: reject what is queued, except requests for pieces in the allowed-fast set.
      const allowed = this.#allowedFast;
      this.#queue.removeWhere(
        (p) => !allowed.has(p),
        (p, b, l) => this.#refuse(p, b, l),
      );
    } else {
      // Without BEP 6 a choke discards every pending request on both sides.
      this.#queue.drain();
    }
  }

  // Store events, relayed by the server

  piecesAdded(pieceIndexes: readonly number[]): void {
    if (this.state !== 'open') return;
    for (const index of pieceIndexes) {
      if (!this.wire.peerPieces.get(index)) this.wire.have(index);
    }
  }

  piecesRemoved(pieceIndexes: readonly number[]): void {
    if (this.state !== 'open') return;
    const peerDonthaveId = this.wire.peerExtendedMapping.lt_donthave;
    if (peerDonthaveId === undefined || !Number.isInteger(peerDonthaveId) || peerDonthaveId <= 0) {
      // Nothing else retracts a have: the peer reconnects and gets a bitfield without these pieces.
      this.close('pieces removed and the peer cannot be told (no lt_donthave)');
      return;
    }
    const removed = new Set(pieceIndexes);
    for (const index of removed) this.#allowedFast.delete(index);
    if (removed.has(this.#currentIndex)) this.#dropCurrentPiece();
    this.#refuseQueued(removed);
    for (const index of removed) {
      const payload = Buffer.allocUnsafe(4);
      payload.writeUInt32BE(index, 0);
      this.wire.extended(peerDonthaveId, payload);
    }
    this.#pump();
  }

  keepAliveIfQuiet(now: number): void {
    if (this.state === 'open' && now - this.lastSentAt >= this.#host.limits.keepAliveIntervalMs) this.wire.keepAlive();
  }

  info(): PeerInfo {
    return {
      address: this.address,
      port: this.port,
      infoHash: this.object?.infoHash ?? null,
      peerId: this.wire.peerIdBuffer === null ? null : printablePeerId(this.wire.peerIdBuffer),
      fast: this.wire.hasFast,
      choked: this.wire.amChoking,
      interested: this.wire.peerInterested,
      queuedRequests: this.#queue.size,
      uploadedBytes: this.uploadedBytes,
      connectedAt: this.connectedAt,
      piecesHeld: this.object === null ? null : this.#peerPiecesHeld(),
      pieceCount: this.object === null ? null : this.#pieceCount,
      ...(this.subscriber === undefined ? {} : { subscriber: this.subscriber }),
    };
  }

  /** The peer's pieces: set bits of its bitfield as grown by haves (a have-all field has no bytes: all). */
  #peerPiecesHeld(): number {
    const bytes = (this.wire.peerPieces as { buffer?: Uint8Array }).buffer;
    return bytes === undefined ? this.#pieceCount : countSetBits(bytes, this.#pieceCount);
  }

  /** Closes at once (`graceful`: after what is queued in the socket is flushed). Idempotent. */
  close(reason: string, log = true, graceful = false): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.wire.halt();
    this.#queue.drain();
    this.#dropCurrentPiece();
    this.#flow?.close();
    this.#detachLedger?.();
    if (this.#topUpTimer !== null) clearTimeout(this.#topUpTimer);
    if (graceful) this.socket.end();
    else this.socket.destroy();
    if (log) this.#host.logger.debug(this.#logFields({ reason, wasOpen }), 'peer wire: connection closed');
    this.#host.closed(this);
  }

  // Internals

  #onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastReceivedAt = this.#host.now;
    // A chunk holds many requests: answer them together, in as few writev calls as the budget allows.
    const socket = this.socket;
    socket.cork();
    this.#parsing = true;
    try {
      this.wire._write(chunk, noop);
    } catch (err) {
      // Whatever went wrong costs this connection, never the process (a peer must not crash the server).
      this.#parsing = false;
      socket.uncork();
      this.#host.internalError(this, err);
      return;
    } finally {
      this.#parsing = false;
    }
    this.#pump();
    socket.uncork();
    // A peer that sends faster than it reads (e.g. floods requests we reject) waits for its own data.
    if (!this.socket.destroyed && this.socket.writableLength > this.#host.limits.sendBufferBytes * 2) {
      this.#pausedReading = true;
      this.socket.pause();
    }
  }

  #onDrain(): void {
    if (this.state === 'closed') return;
    if (this.#pausedReading) {
      this.#pausedReading = false;
      this.socket.resume();
    }
    this.#pump();
  }

  #onEncryptedHandshake(req2Hash: string): void {
    if (this.state !== 'handshake') return;
    const infoHash = this.#host.infoHashForMse(req2Hash);
    if (infoHash === undefined) {
      this.close('unknown info hash (encrypted handshake)');
      return;
    }
    this.#host.counters.encryptedHandshakes++;
    // Resumed outside the package's parse loop, which emitted this event and pauses until then.
    queueMicrotask(() => {
      if (this.state === 'handshake') this.wire.setInfoHash(infoHash);
    });
  }

  #onHandshake(infoHash: string, peerIdHex: string): void {
    const host = this.#host;
    const object = host.store.get(infoHash);
    if (object === undefined) {
      this.close('unknown info hash');
      return;
    }
    if (peerIdHex === host.peerId.toString('hex')) {
      this.close('connected to itself');
      return;
    }
    // Not object.metainfo: a damaged metainfo file would throw here, in a socket handler.
    const metainfo = host.store.metainfoOf(infoHash);
    if (metainfo === undefined) {
      this.close('object damaged: its metainfo cannot be read');
      return;
    }
    this.object = object;
    this.#metainfo = metainfo;
    this.#infoHash = object.infoHash;
    this.#detachLedger = host.topUpLedger?.attach(this.address, object.infoHash) ?? null;
    // RC4 was selected in the encrypted handshake: every byte of this peer goes through the JavaScript cipher.
    if (this.wire.encrypted) host.counters.rc4Streams++;
    this.#pieceCount = metainfo.pieceCount;
    this.#pieceLength = metainfo.pieceLength;
    this.#lastPieceLength = metainfo.length - (metainfo.pieceCount - 1) * metainfo.pieceLength;
    const bitfieldBytes = Math.ceil(metainfo.pieceCount / 8);
    this.wire.bitfieldMessageLength = 1 + bitfieldBytes;
    this.wire.maxMessageLength = Math.max(this.wire.maxMessageLength, 1 + bitfieldBytes);

    const wire = this.wire;
    wire.extendedMapping = { [UT_METADATA_ID]: 'ut_metadata', [LT_DONTHAVE_ID]: 'lt_donthave' };
    wire.extendedHandshake = {
      v: host.clientName,
      reqq: host.limits.maxQueuedRequests,
      metadata_size: metainfo.info.length,
      upload_only: 1, // BEP 21: this server never downloads over the wire
      yourip: compactAddress(this.address),
    };
    wire.handshake(infoHash, host.peerId, { dht: false, fast: true });
    this.state = 'open';
    this.#sendHeldPieces(object);
    this.#sendAllowedFast(object);
    host.opened(this);
  }

  #sendHeldPieces(object: CatalogObject): void {
    const held = object.bitfield.count();
    if (this.wire.hasFast) {
      if (held === 0) this.wire.haveNone();
      else if (held === object.pieceCount) this.wire.haveAll();
      else this.wire.bitfield(object.bitfield.toBuffer());
    } else if (held > 0) {
      this.wire.bitfield(object.bitfield.toBuffer());
    }
  }

  #sendAllowedFast(object: CatalogObject): void {
    const size = this.#host.limits.allowedFastSetSize;
    if (!this.wire.hasFast || size === 0) return;
    const infoHash = Buffer.from(object.infoHash, 'hex');
    for (const index of allowedFastSet(this.address, infoHash, object.pieceCount, size)) {
      if (!object.bitfield.get(index)) continue;
      this.#allowedFast.add(index);
      this.wire.allowedFast(index);
    }
  }

  /** Sends blocks while the socket keeps up; fetches the next piece when the queue moves on to it. */
  #pump(): void {
    if (this.#fetching || this.state !== 'open') return;
    const socket = this.socket;
    const queue = this.#queue;
    const budget = this.#host.limits.sendBufferBytes;
    const bitfield = this.object!.bitfield;
    const qos = this.#host.qos;
    let corked = false;
    while (queue.size > 0 && socket.writableLength < budget) {
      const index = queue.headPiece();
      const begin = queue.headBegin();
      const length = queue.headLength();
      // A cache shared by serving threads lends the block (a view of its slab, no copy of the piece).
      const lent = index === this.#currentIndex ? undefined : this.#lend(index, begin, length);
      if (index !== this.#currentIndex && lent === undefined) {
        if (corked) {
          socket.uncork();
          this.#giveBackWhenWritten();
        }
        this.#fetch(index);
        return;
      }
      if (!bitfield.get(index)) {
        // Removed since it was read: never send a byte of it.
        if (lent !== undefined) this.#release!(lent);
        else this.#dropCurrentPiece();
        this.#refuseQueued(new Set([index]));
        continue;
      }
      // Top-up first: tokens the limiter grants are spent, and a block top-up holds back would waste them.
      if (!this.#topUpAllows(length) || (qos !== null && !this.#tokensFor(qos, length))) {
        if (lent !== undefined) this.#release!(lent);
        break; // resumed by the top-up timer or the limiter
      }
      queue.shift();
      if (!corked) {
        socket.cork();
        corked = true;
      }
      this.#writeBlock(index, begin, lent ?? this.#currentPiece!.subarray(begin, begin + length), lent !== undefined);
    }
    if (corked) {
      socket.uncork();
      this.#giveBackWhenWritten();
    }
    if (queue.size === 0) this.#dropCurrentPiece();
  }

  /** True when the limits let a block of `length` go now; else #pump runs again when they do. */
  #tokensFor(qos: Qos, length: number): boolean {
    if (this.#flow === null) {
      if (!qos.active) return true;
      this.#flow = qos.open('wire', this.#infoHash, this.address, this.#resume);
      if (this.#flow === null) return true;
    }
    return this.#flow.take(length);
  }

  /**
   * Gives the blocks lent for the writes just made back to the cache once the socket no longer reads them:
   * at once when the writes went out (the common case), else once they complete or fail (whenWritten).
   */
  #giveBackWhenWritten(): void {
    const lent = this.#lentOut;
    if (lent.length === 0) return;
    const release = this.#release!;
    if (!this.socket.destroyed && this.socket.writableLength === 0) {
      for (const block of lent) release(block);
      lent.length = 0;
      return;
    }
    this.#lentOut = [];
    whenWritten(this.socket, () => {
      for (const block of lent) release(block);
    });
  }

  /** `lent`: the block is the cache's, given back once the socket wrote it (or failed to). */
  #writeBlock(index: number, begin: number, block: Buffer, lent: boolean): void {
    const header = Buffer.allocUnsafe(HEADER_LENGTH);
    header.writeUInt32BE(block.length + 9, 0);
    header[4] = MSG_PIECE;
    header.writeUInt32BE(index, 5);
    header.writeUInt32BE(begin, 9);
    if (this.wire.encrypted) {
      this.socket.write(this.wire.encrypt(header));
      this.socket.write(this.wire.encrypt(block));
    } else {
      this.socket.write(header);
      this.socket.write(block);
      // Given back once the socket wrote the batch (#pump, after uncork): no callback per block.
      if (lent) this.#lentOut.push(block);
    }
    this.lastSentAt = this.#host.now;
    this.uploadedBytes += block.length;
    this.#topUp?.sent(Date.now(), block.length);
    this.#host.topUpLedger?.sent(this.address, this.#infoHash, block.length);
    const counters = this.#host.counters;
    counters.uploadedBytes += block.length;
    this.#host.uploaded(this.#infoHash, block.length);
    counters.blocksSent++;
  }

  /**
   * The block lent by a cache that lends (the serving threads' slab) when it holds the piece now, else
   * undefined (then the piece is fetched whole). Not for RC4 peers: their blocks are encrypted into copies.
   */
  #lend(index: number, begin: number, length: number): Buffer | undefined {
    const cache = this.#host.cache;
    if (this.#release === null || this.wire.encrypted || cache.readSpanSync === undefined) return undefined;
    const block = cache.readSpanSync(this.#infoHash, index, begin, begin + length, 0);
    if (block !== undefined && index !== this.#lentIndex) {
      this.#lentIndex = index;
      this.#prefetch(index);
    }
    return block;
  }

  #fetch(index: number): void {
    this.#fetching = true;
    this.#host.cache.getPiece(this.#infoHash, index).then(
      (piece) => {
        this.#fetching = false;
        if (this.state !== 'open') return;
        this.#currentIndex = index;
        this.#currentPiece = piece;
        this.#prefetch(index);
        this.#pump();
      },
      (err: unknown) => {
        this.#fetching = false;
        if (this.state !== 'open') return;
        this.#onReadFailure(index, err);
        this.#pump();
      },
    );
  }

  /**
   * Warms the cache with the next pieces the peer asked for (prefetchDepth of them), so their reads overlap
   * this piece's sending. Each is asked for once while it waits in the queue.
   */
  #prefetch(current: number): void {
    const { prefetch, prefetchDepth } = this.#host.limits;
    if (!prefetch) return;
    this.#prefetched.delete(current);
    for (const next of this.#queue.nextPiecesOtherThan(current, prefetchDepth)) {
      if (this.#prefetched.has(next)) continue;
      // A lending cache that holds it lends its blocks when their turn comes: nothing to read ahead.
      if (this.#release !== null && this.#host.cache.holds?.(this.#infoHash, next)) continue;
      // Bounded: pieces the peer cancelled are forgotten once the set outgrows a few depths.
      if (this.#prefetched.size >= 4 * prefetchDepth) this.#prefetched.clear();
      this.#prefetched.add(next);
      // A failure surfaces again, and is handled, when the request reaches the head of the queue.
      this.#host.cache.getPiece(this.#infoHash, next).catch(noop);
    }
  }

  #onReadFailure(index: number, err: unknown): void {
    const fields = this.#logFields({ pieceIndex: index, error: describeError(err) });
    if (err instanceof CorruptPieceError) {
      this.#host.logger.warn(fields, 'peer wire: piece failed verification on read; not sent');
    } else if (!isEdgepeerError(err) || err.code !== 'EDGEPEER_NOT_FOUND') {
      this.#host.logger.error(fields, 'peer wire: could not read piece; requests for it refused');
    }
    this.#refuseQueued(new Set([index]));
  }

  /** Refuses queued requests for `pieces`. Without BEP 6 there is no reject: choke and unchoke instead. */
  #refuseQueued(pieces: ReadonlySet<number>): void {
    if (this.wire.hasFast) {
      this.#queue.removePieces(pieces, (p, b, l) => this.#refuse(p, b, l));
      return;
    }
    let affected = false;
    this.#queue.removePieces(pieces, () => {
      affected = true;
    });
    if (!affected || this.wire.amChoking) return;
    this.#host.counters.requestsDropped += this.#queue.size;
    this.#queue.drain();
    this.wire.choke();
    this.wire.unchoke();
  }

  #refuse(pieceIndex: number, begin: number, length: number): void {
    if (this.wire.hasFast) {
      this.#host.counters.requestsRejected++;
      this.wire.reject(pieceIndex, begin, length);
    } else {
      this.#host.counters.requestsDropped++;
    }
  }

  #dropCurrentPiece(): void {
    this.#currentIndex = -1;
    this.#currentPiece = null;
  }

  #logFields(extra: Record<string, unknown>): Record<string, unknown> {
    return { peer: `${this.address}:${this.port}`, infoHash: this.object?.infoHash, ...extra };
  }
}

function noop(): void {}

function describeError(err: unknown): unknown {
  if (isEdgepeerError(err)) return { code: err.code, message: err.message };
  return err instanceof Error ? err.message : String(err);
}

/** BEP 10 `yourip`: 4 or 16 bytes. */
function compactAddress(address: string): Uint8Array | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) return Uint8Array.from(address.split('.').map(Number));
  return undefined;
}

function printablePeerId(id: Uint8Array): string {
  const text = Buffer.from(id).toString('latin1');
  return /^[\x20-\x7e]{20}$/.test(text) ? text : Buffer.from(id).toString('hex');
}
