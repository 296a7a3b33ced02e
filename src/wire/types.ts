// What src/wire needs from its surroundings, and the plain data it reports.
import type { Catalog, PieceSource } from '../store/types.ts';

/** The part of the catalog the wire server reads: objects by info hash, their metainfo and the bitmap events. */
export type WireStore = Pick<Catalog, 'get' | 'list' | 'metainfoOf' | 'on' | 'off'>;

/**
 * Where the wire server's piece bytes come from. A cache that lends spans (releaseSpan: the serving
 * threads' slab) has its blocks sent as views of its memory, each given back once the socket wrote it.
 */
export type WirePieceCache = Pick<PieceSource, 'getPiece'> &
  Partial<Pick<PieceSource, 'holds' | 'readSpanSync' | 'releaseSpan'>>;

export interface PeerWireStats {
  /** Open connections, handshaking or not. */
  connections: number;
  /** Connections still waiting for a valid handshake. */
  handshaking: number;
  /** Peers in upload slots (regular + optimistic). */
  unchoked: number;
  /** Interested peers waiting for a slot. */
  waiting: number;
  /** Times a slot changed hands because its quantum was up. */
  slotRotations: number;
  accepted: number;
  /** Closed on accept: over maxConnections or maxConnectionsPerIp. */
  refused: number;
  /** Closed for a malformed message or a protocol violation. */
  protocolErrors: number;
  /**
   * Closed because the first bytes were not a plaintext BitTorrent handshake: mostly clients trying an
   * encrypted handshake (MSE) first, which retry in plaintext (aria2c after 1 s). Logged at debug only.
   */
  notBitTorrent: number;
  /** Encrypted handshakes (MSE) accepted, for an object the store holds. */
  encryptedHandshakes: number;
  /** Encrypted handshakes closed because the peer offered only RC4 (mse: 'plaintext'). */
  rc4Refused: number;
  /** Payload bytes sent in piece messages. */
  uploadedBytes: number;
  blocksSent: number;
  requestsReceived: number;
  /** Reject messages sent (BEP 6): not held, over limits, choked, unreadable. */
  requestsRejected: number;
  /** Times sending to a leecher paused because it gets its top-up rate from other peers (topUpBytesPerSecond). */
  topUpPauses: number;
  /** Requests dropped without a reject because the peer lacks the fast extension. */
  requestsDropped: number;
  /** Bytes written to sockets but not yet taken by the kernel, summed over peers. */
  sendQueueBytes: number;
  /** Metadata pieces sent (BEP 9). */
  metadataPiecesSent: number;
  /** Connections closed because handling them failed unexpectedly (a bug or a damaged object): logged. */
  internalErrors: number;
  /** Connections whose stream is RC4-encrypted (the peer offered only RC4): each costs more CPU. */
  rc4Streams: number;
  /** uTP connection attempts (BEP 29 ST_SYN) on the peer port answered with ST_RESET, so the client used TCP. */
  utpResets: number;
  /** Peers refused piece bytes because they are not on the allow-list (peerGate), each counted once. */
  unauthorisedPeers: number;
  /** With peer.threads > 1: connections accepted by each thread, the agent's first. */
  acceptedPerThread?: number[];
  /** With peer.threads > 1: block requests received by each thread, the agent's first. */
  requestsPerThread?: number[];
}

/**
 * Who may have piece bytes (`peerAuth: tracker`, src/peer-auth): the subscriber an address may fetch an
 * object for, or undefined when it may not. Asked at each request of a peer until it answers a subscriber.
 */
export interface PeerGate {
  lookup(address: string, infoHash: string): string | undefined;
}

export interface PeerInfo {
  address: string;
  port: number;
  infoHash: string | null;
  /** The peer id as printable text where it is (Azureus-style ids are), else hex. */
  peerId: string | null;
  fast: boolean;
  choked: boolean;
  interested: boolean;
  queuedRequests: number;
  uploadedBytes: number;
  connectedAt: number;
  /** Pieces the peer says it holds (its bitfield, haves, have-all), of `pieceCount`; null before the handshake. */
  piecesHeld: number | null;
  pieceCount: number | null;
  /** With a peer gate: the subscriber the peer was let in for (the allow-list's), once it was. */
  subscriber?: string;
}
