// The peer wire server: accepts connections within the limits, hands each to a PeerConnection, shares
// upload slots among all of them (Choker), relays the store's bitmap events to the peers of each object,
// and keeps one coarse clock for timeouts and keep-alives (one timer, not one per connection).
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { fromListenError, InvalidArgumentError } from '../errors/index.ts';
import { type Logger, silentLogger, WarningThrottle } from '../log/index.ts';
import type { Qos } from '../qos/index.ts';
import type { RemovalReason } from '../store/types.ts';
import { unmapIPv4 } from './allowed-fast.ts';
import { Choker } from './choker.ts';
import { type ConnectionHost, PeerConnection, type WireCounters } from './connection.ts';
import { type PeerWireLimits, resolveLimits } from './options.ts';
import type { MseMode } from './serving-wire.ts';
import type { TopUpLedger } from './top-up.ts';
import type { PeerGate, PeerInfo, PeerWireStats, WirePieceCache, WireStore } from './types.ts';
import { answerUtpWithReset, type UtpResetter } from './utp-reset.ts';

export interface PeerWireServerOptions {
  store: WireStore;
  cache: WirePieceCache;
  /** TCP port; 0 picks a free one (listen() says which). */
  port: number;
  /**
   * Addresses to listen on. Default: one dual-stack socket on '::' (IPv6 and IPv4-mapped IPv4), or
   * '0.0.0.0' where the host has no IPv6. Several addresses share the port chosen for the first.
   */
  host?: string | string[];
  /** 20 bytes (or 20 ASCII characters). Default: '-EP0100-' and 12 random characters. */
  peerId?: Uint8Array | string;
  /** `v` in the extended handshake (BEP 10). */
  clientName?: string;
  /**
   * Encrypted handshakes (MSE/PE), which aria2c, libtorrent and Transmission try first by default: 'rc4'
   * (default) selects plaintext when the peer offers it and RC4 when that is all it offers (Transmission's
   * default; libtorrent's "enabled" policy); 'plaintext' closes peers offering only RC4; 'off' closes every
   * encrypted handshake (clients retry in plaintext, aria2c after a second).
   */
  mse?: MseMode;
  limits?: Partial<PeerWireLimits>;
  logger?: Logger;
  /** Told of piece bytes of an object sent to peers (the agent's `uploaded` in announces). */
  onUploaded?: (infoHash: string, bytes: number) => void;
  /** Egress limits shared with the HTTP servers (src/qos); default: none. */
  qos?: Qos;
  /** Told of each session with an object that ended, as it ended (accounting records). */
  onSessionEnd?: (peer: PeerInfo) => void;
  /** Serve piece bytes only to peers it knows (`peerAuth: tracker`); default: everyone. */
  peerGate?: PeerGate;
  /**
   * Top-up (storage control, docs/policy.md): a leecher gets from this server at most this rate less what it
   * gets from its other peers, bytes per second; sending pauses past that. 0 (default): off.
   */
  topUpBytesPerSecond?: number;
  /**
   * Shared with the HTTP server (top-up over HTTP): told of each leecher's HAVEs and the blocks sent it, by
   * address. Default: none.
   */
  topUpLedger?: TopUpLedger;
  /** SO_REUSEPORT (Linux): serving threads (peer.threads) each listen on the port; the kernel spreads peers. */
  reusePort?: boolean;
  /**
   * Answer uTP attempts on the port's UDP side with a reset (default true). One thread does it for all: the
   * others' listeners share the TCP port only.
   */
  utpReset?: boolean;
}

export interface PeerWireServer {
  listen(): Promise<{ port: number; addresses: string[] }>;
  /** Stops accepting, lets each peer's queued bytes flush for up to `graceMs`, then closes what is left. */
  close(graceMs?: number): Promise<void>;
  stats(): PeerWireStats;
  peers(): PeerInfo[];
  readonly limits: Readonly<PeerWireLimits>;
  readonly peerId: Buffer;
}

const PEER_ID_PREFIX = '-EP0100-';
const PEER_ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function createPeerWireServer(options: PeerWireServerOptions): PeerWireServer {
  return new WireServer(options);
}

class WireServer implements PeerWireServer, ConnectionHost {
  readonly limits: PeerWireLimits;
  readonly peerId: Buffer;
  readonly clientName: string;
  readonly mse: MseMode;
  readonly store: WireStore;
  readonly cache: WirePieceCache;
  readonly logger: Logger;
  readonly qos: Qos | null;
  readonly topUpBytesPerSecond: number;
  readonly topUpLedger: TopUpLedger | null;
  readonly remoteWarnings: WarningThrottle;
  readonly uploaded: (infoHash: string, bytes: number) => void;
  readonly peerGate: PeerGate | null;
  readonly counters: WireCounters = {
    accepted: 0,
    refused: 0,
    protocolErrors: 0,
    notBitTorrent: 0,
    encryptedHandshakes: 0,
    rc4Refused: 0,
    uploadedBytes: 0,
    blocksSent: 0,
    requestsReceived: 0,
    requestsRejected: 0,
    topUpPauses: 0,
    requestsDropped: 0,
    metadataPiecesSent: 0,
    internalErrors: 0,
    rc4Streams: 0,
    unauthorisedPeers: 0,
  };
  now = Date.now();

  readonly #port: number;
  readonly #hosts: string[] | null;
  readonly #reusePort: boolean;
  readonly #utpReset: boolean;
  readonly #servers: Server[] = [];
  readonly #connections = new Set<PeerConnection>();
  readonly #perIp = new Map<string, number>();
  readonly #byObject = new Map<string, Set<PeerConnection>>();
  readonly #choker: Choker<PeerConnection>;
  /** Interested peers the peer gate has not let in yet (asked again at each sweep). */
  readonly #awaitingGate = new Set<PeerConnection>();
  /** SHA-1('req2' + info hash) -> info hash, for encrypted handshakes; rebuilt when objects were added. */
  #mseHashes = new Map<string, string>();
  /** UDP on the peer port, answering uTP connection attempts with a reset (clients then use TCP at once). */
  readonly #utpResetters: UtpResetter[] = [];
  readonly #storeListeners: {
    added: (infoHash: string, pieces: number[]) => void;
    removed: (infoHash: string, pieces: number[], reason: RemovalReason) => void;
    objectRemoved: (infoHash: string, reason: RemovalReason) => void;
  };
  #sweepTimer: NodeJS.Timeout | null = null;
  #lastRechoke = 0;
  #state: 'new' | 'listening' | 'closing' | 'closed' = 'new';
  readonly #sessionEnded: PeerWireServerOptions['onSessionEnd'];

  constructor(options: PeerWireServerOptions) {
    this.limits = resolveLimits(options.limits);
    this.topUpBytesPerSecond = options.topUpBytesPerSecond ?? 0;
    this.topUpLedger = options.topUpLedger ?? null;
    if (!Number.isFinite(this.topUpBytesPerSecond) || this.topUpBytesPerSecond < 0) {
      throw new InvalidArgumentError(`topUpBytesPerSecond must be 0 or more, got ${this.topUpBytesPerSecond}`, {
        subject: 'topUpBytesPerSecond',
      });
    }
    this.peerId = resolvePeerId(options.peerId);
    this.clientName = options.clientName ?? 'edgepeer';
    this.mse = options.mse ?? 'rc4';
    if (!['off', 'plaintext', 'rc4'].includes(this.mse)) {
      throw new InvalidArgumentError(`mse must be 'off', 'plaintext' or 'rc4', got ${String(this.mse)}`, {
        subject: 'mse',
      });
    }
    this.store = options.store;
    this.cache = options.cache;
    this.logger = options.logger ?? silentLogger;
    this.qos = options.qos ?? null;
    this.remoteWarnings = new WarningThrottle(this.logger);
    this.uploaded = options.onUploaded ?? (() => {});
    this.#sessionEnded = options.onSessionEnd;
    this.peerGate = options.peerGate ?? null;
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
      throw new InvalidArgumentError(`peer port must be an integer from 0 to 65535, got ${String(options.port)}`, {
        subject: 'port',
      });
    }
    this.#port = options.port;
    this.#hosts = options.host === undefined ? null : [options.host].flat();
    this.#reusePort = options.reusePort === true;
    this.#utpReset = options.utpReset !== false;
    this.#choker = new Choker(
      {
        uploadSlots: this.limits.uploadSlots,
        optimisticSlots: this.limits.optimisticSlots,
        slotQuantumMs: this.limits.slotQuantumMs,
        optimisticIntervalMs: this.limits.optimisticIntervalMs,
        // Top-up: a leecher that gets most of its rate from other peers needs this slot less than one waiting.
        ...(this.topUpBytesPerSecond > 0 ? { yieldsSlot: (peer: PeerConnection) => peer.topUpSatisfied() } : {}),
      },
      this.now,
    );
    this.#storeListeners = {
      added: (infoHash, pieces) => this.#forPeersOf(infoHash, (c) => c.piecesAdded(pieces)),
      removed: (infoHash, pieces) => this.#forPeersOf(infoHash, (c) => c.piecesRemoved(pieces)),
      objectRemoved: (infoHash) => this.#forPeersOf(infoHash, (c) => c.close('object removed from the store')),
    };
  }

  async listen(): Promise<{ port: number; addresses: string[] }> {
    if (this.#state !== 'new') throw new Error('peer wire server: listen() may be called once');
    this.#state = 'listening';
    let port = this.#port;
    const addresses: string[] = [];
    const hosts = this.#hosts ?? ['::'];
    for (const host of hosts) {
      let bound: { host: string; port: number };
      try {
        bound = await this.#listenOn(host, port);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (this.#hosts === null && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
          bound = await this.#listenOn('0.0.0.0', port); // no IPv6 on this host
        } else {
          await this.close(0);
          throw listenError(err, host, port);
        }
      }
      port = bound.port;
      const utp = this.#utpReset ? await answerUtpWithReset(bound.host, bound.port, this.logger) : null;
      if (utp !== null) this.#utpResetters.push(utp);
      addresses.push(bound.host.includes(':') ? `[${bound.host}]:${bound.port}` : `${bound.host}:${bound.port}`);
    }
    this.store.on('pieces-added', this.#storeListeners.added);
    this.store.on('pieces-removed', this.#storeListeners.removed);
    this.store.on('object-removed', this.#storeListeners.objectRemoved);
    this.now = Date.now();
    this.#lastRechoke = this.now;
    this.#sweepTimer = setInterval(() => this.#sweep(), sweepIntervalMs(this.limits));
    this.#sweepTimer.unref();
    this.logger.info({ port, addresses }, 'peer wire: listening');
    return { port, addresses };
  }

  async close(graceMs = 2000): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
    this.store.off('pieces-added', this.#storeListeners.added);
    this.store.off('pieces-removed', this.#storeListeners.removed);
    this.store.off('object-removed', this.#storeListeners.objectRemoved);
    const serversClosed = this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    const utpClosed = this.#utpResetters.map((utp) => utp.close());
    const sockets = [...this.#connections].map((c) => c.socket);
    const socketsClosed = sockets.map(
      (s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()))),
    );
    for (const connection of [...this.#connections]) connection.close('server closing', false, graceMs > 0);
    if (graceMs > 0) {
      const deadline = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await Promise.all(socketsClosed);
      clearTimeout(deadline);
    } else {
      await Promise.all(socketsClosed);
    }
    await Promise.all([...serversClosed, ...utpClosed]);
    this.#state = 'closed';
    this.remoteWarnings.close();
  }

  stats(): PeerWireStats {
    let handshaking = 0;
    let sendQueueBytes = 0;
    for (const connection of this.#connections) {
      if (connection.state === 'handshake') handshaking++;
      sendQueueBytes += connection.socket.writableLength;
    }
    const choker = this.#choker.stats();
    const { metadataPiecesSent, ...counters } = this.counters;
    return {
      connections: this.#connections.size,
      handshaking,
      unchoked: choker.regular + choker.optimistic,
      waiting: choker.waiting,
      slotRotations: choker.rotations,
      ...counters,
      sendQueueBytes,
      metadataPiecesSent,
      utpResets: this.#utpResetters.reduce((sum, utp) => sum + utp.resets, 0),
    };
  }

  peers(): PeerInfo[] {
    return [...this.#connections].map((c) => c.info());
  }

  // ConnectionHost

  internalError(connection: PeerConnection, err: unknown): void {
    this.counters.internalErrors++;
    this.logger.error(
      { err, peer: `${connection.address}:${connection.port}`, infoHash: connection.object?.infoHash },
      'peer wire: handling a connection failed; it was closed',
    );
    connection.close('internal error');
  }

  infoHashForMse(req2Hash: string): string | undefined {
    let infoHash = this.#mseHashes.get(req2Hash);
    if (infoHash === undefined) {
      const objects = this.store.list();
      const known = new Set(this.#mseHashes.values());
      if (objects.every((o) => known.has(o.infoHash))) return undefined;
      this.#mseHashes = new Map(objects.map((o) => [mseHash(o.infoHash), o.infoHash]));
      infoHash = this.#mseHashes.get(req2Hash);
    }
    return infoHash !== undefined && this.store.get(infoHash) !== undefined ? infoHash : undefined;
  }

  unauthorised(connection: PeerConnection): void {
    this.counters.unauthorisedPeers++;
    // Once per peer (the connection asks once); the address and object, nothing the peer sent.
    this.remoteWarnings.warn(
      `unauthorised:${connection.address}`,
      { peer: `${connection.address}:${connection.port}`, infoHash: connection.object?.infoHash },
      'peer wire: peer not on the allow-list; it gets no piece bytes',
    );
  }

  opened(connection: PeerConnection): void {
    const infoHash = connection.object!.infoHash;
    let peers = this.#byObject.get(infoHash);
    if (peers === undefined) {
      peers = new Set();
      this.#byObject.set(infoHash, peers);
    }
    peers.add(connection);
    // Interest may have arrived in the same packet as the handshake, before the connection opened.
    if (connection.wire.peerInterested) this.interestChanged(connection, true);
  }

  interestChanged(connection: PeerConnection, interested: boolean): void {
    if (connection.state !== 'open') return;
    // With a peer gate, a peer not (yet) on the allow-list waits outside the choker: it takes no upload
    // slot; the sweep asks the gate again (its announce may reach the tracker after it connected).
    if (interested && !connection.admitted()) {
      this.#awaitingGate.add(connection);
      return;
    }
    this.#awaitingGate.delete(connection);
    this.#choker.setInterested(connection, interested, Date.now());
  }

  closed(connection: PeerConnection): void {
    if (!this.#connections.delete(connection)) return;
    this.#awaitingGate.delete(connection);
    const count = (this.#perIp.get(connection.address) ?? 1) - 1;
    if (count > 0) this.#perIp.set(connection.address, count);
    else this.#perIp.delete(connection.address);
    const infoHash = connection.object?.infoHash;
    if (infoHash !== undefined) {
      this.#sessionEnded?.(connection.info());
      const peers = this.#byObject.get(infoHash);
      peers?.delete(connection);
      if (peers?.size === 0) this.#byObject.delete(infoHash);
    }
    if (this.#state === 'listening') this.#choker.remove(connection, Date.now());
  }

  // Internals

  #listenOn(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen({ host, port, ipv6Only: false, backlog: 1024, reusePort: this.#reusePort }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.logger.error({ err: err.message, host }, 'peer wire: listener error'));
        this.#servers.push(server);
        const address = server.address();
        if (address === null || typeof address === 'string') {
          reject(new Error('peer wire: listener has no TCP address'));
          return;
        }
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  #accept(socket: Socket): void {
    const address = unmapIPv4(socket.remoteAddress ?? '');
    const fromIp = this.#perIp.get(address) ?? 0;
    if (
      this.#state !== 'listening' ||
      this.#connections.size >= this.limits.maxConnections ||
      fromIp >= this.limits.maxConnectionsPerIp ||
      address === ''
    ) {
      this.counters.refused++;
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.counters.accepted++;
    this.#perIp.set(address, fromIp + 1);
    this.#connections.add(new PeerConnection(this, socket, address));
  }

  #forPeersOf(infoHash: string, action: (connection: PeerConnection) => void): void {
    const peers = this.#byObject.get(infoHash);
    if (peers === undefined) return;
    for (const connection of [...peers]) action(connection);
  }

  #sweep(): void {
    const now = Date.now();
    this.now = now;
    const { handshakeTimeoutMs, idleTimeoutMs } = this.limits;
    for (const connection of [...this.#connections]) {
      if (connection.state === 'handshake') {
        if (now - connection.connectedAt >= handshakeTimeoutMs) connection.close('no handshake in time');
      } else if (now - connection.lastReceivedAt >= idleTimeoutMs) {
        connection.close('idle timeout');
      } else {
        connection.keepAliveIfQuiet(now);
      }
    }
    for (const connection of this.#awaitingGate) {
      if (connection.state === 'open' && connection.wire.peerInterested) this.interestChanged(connection, true);
      else this.#awaitingGate.delete(connection);
    }
    if (now - this.#lastRechoke >= this.limits.rechokeIntervalMs) {
      this.#lastRechoke = now;
      this.#choker.tick(now);
    }
  }
}

/** The sweep runs often enough for the shortest timeout to be honoured within a quarter of it. */
function sweepIntervalMs(limits: PeerWireLimits): number {
  const shortest = Math.min(
    limits.handshakeTimeoutMs,
    limits.idleTimeoutMs,
    limits.keepAliveIntervalMs,
    limits.rechokeIntervalMs,
  );
  return Math.max(5, Math.min(1000, Math.floor(shortest / 4)));
}

function mseHash(infoHash: string): string {
  return createHash('sha1').update('req2').update(Buffer.from(infoHash, 'hex')).digest('hex');
}

/** A new peer id: Azureus-style, edgepeer 0.1.0 ('-EP0100-'), then 12 random printable characters. */
export function newPeerId(): Buffer {
  const random = randomBytes(12);
  let suffix = '';
  for (const byte of random) suffix += PEER_ID_ALPHABET[byte % PEER_ID_ALPHABET.length];
  return Buffer.from(PEER_ID_PREFIX + suffix, 'latin1');
}

function resolvePeerId(given: Uint8Array | string | undefined): Buffer {
  if (given === undefined) return newPeerId();
  const id = typeof given === 'string' ? Buffer.from(given, 'latin1') : Buffer.from(given);
  if (id.length !== 20) {
    throw new InvalidArgumentError(`peer id must be 20 bytes, got ${id.length}`, { subject: 'peerId' });
  }
  return id;
}

function listenError(err: unknown, host: string, port: number): Error {
  return fromListenError(err, 'peer wire', host, port);
}
