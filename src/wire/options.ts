// Limits of the peer wire server: defaults and validation. Every limit is a plain number so the agent's
// configuration can pass them through unchanged.
import { InvalidArgumentError } from '../errors/index.ts';

export interface PeerWireLimits {
  /** Connections open at once, handshaking or not; more are closed on accept. */
  maxConnections: number;
  /** Connections open at once from one IP address. */
  maxConnectionsPerIp: number;
  /** Peers unchoked at once in regular (round-robin) slots, across all objects. */
  uploadSlots: number;
  /** Extra slots given to a randomly chosen waiting peer, rotated every `optimisticIntervalMs`. */
  optimisticSlots: number;
  /** A peer keeps a regular slot at least this long; after it, the slot goes to the longest-waiting peer. */
  slotQuantumMs: number;
  /** How often slots are reconsidered (freed slots are refilled at once, not on this clock). */
  rechokeIntervalMs: number;
  optimisticIntervalMs: number;
  /** Requests a peer may have queued; beyond, reject (BEP 6). Advertised as `reqq` (BEP 10). */
  maxQueuedRequests: number;
  /** Largest block a peer may request; 16 KiB is what every client asks for. At most 128 KiB. */
  maxBlockLength: number;
  /** Pieces in the allowed-fast set (BEP 6) sent to each IPv4 peer; 0 disables it. */
  allowedFastSetSize: number;
  /** From accept to a valid handshake naming an object in the store. */
  handshakeTimeoutMs: number;
  /** Close a peer that sent nothing (not even a keep-alive) for this long. */
  idleTimeoutMs: number;
  /** Send a keep-alive after this long without sending anything. */
  keepAliveIntervalMs: number;
  /** Bytes queued in user space for one peer before serving pauses until the socket drains. */
  sendBufferBytes: number;
  /** Read ahead the next piece a peer has requested while its current piece is being sent. */
  prefetch: boolean;
  /**
   * Pieces read ahead per peer, the next distinct ones in its request queue. One is enough when a read takes
   * less than sending a piece (a local disk); a controller fetching from edges keeps more in flight.
   */
  prefetchDepth: number;
}

export const DEFAULT_LIMITS: Readonly<PeerWireLimits> = Object.freeze({
  maxConnections: 2000,
  maxConnectionsPerIp: 8,
  uploadSlots: 16,
  optimisticSlots: 1,
  slotQuantumMs: 30_000,
  rechokeIntervalMs: 10_000,
  optimisticIntervalMs: 30_000,
  maxQueuedRequests: 2000,
  maxBlockLength: 16 * 1024,
  allowedFastSetSize: 10,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 180_000,
  keepAliveIntervalMs: 60_000,
  sendBufferBytes: 256 * 1024,
  prefetch: true,
  prefetchDepth: 1,
});

/** The hard ceiling for blocks: libtorrent and others drop peers asking for more than 128 KiB. */
export const MAX_BLOCK_LENGTH = 128 * 1024;

const RANGES: Record<Exclude<keyof PeerWireLimits, 'prefetch'>, [min: number, max: number]> = {
  maxConnections: [1, 1_000_000],
  maxConnectionsPerIp: [1, 1_000_000],
  uploadSlots: [1, 100_000],
  optimisticSlots: [0, 100_000],
  slotQuantumMs: [1, 86_400_000],
  rechokeIntervalMs: [10, 3_600_000],
  optimisticIntervalMs: [10, 3_600_000],
  maxQueuedRequests: [1, 100_000],
  maxBlockLength: [1024, MAX_BLOCK_LENGTH],
  allowedFastSetSize: [0, 1000],
  handshakeTimeoutMs: [10, 3_600_000],
  idleTimeoutMs: [10, 86_400_000],
  keepAliveIntervalMs: [10, 86_400_000],
  sendBufferBytes: [16 * 1024, 1024 * 1024 * 1024],
  prefetchDepth: [1, 64],
};

/** Defaults overlaid with `given`; InvalidArgumentError naming the first limit out of range. */
export function resolveLimits(given: Partial<PeerWireLimits> = {}): PeerWireLimits {
  const limits: PeerWireLimits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (key === 'prefetch') {
      if (typeof value !== 'boolean') {
        throw new InvalidArgumentError(`peer wire limit prefetch must be true or false, got ${String(value)}`, {
          subject: 'prefetch',
        });
      }
      limits.prefetch = value;
      continue;
    }
    const range = RANGES[key as keyof typeof RANGES];
    if (range === undefined) {
      throw new InvalidArgumentError(`unknown peer wire limit ${key}`, { subject: key });
    }
    const [min, max] = range;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(
        `peer wire limit ${key} must be an integer from ${min} to ${max}, got ${String(value)}`,
        { subject: key },
      );
    }
    limits[key as keyof typeof RANGES] = value;
  }
  if (limits.keepAliveIntervalMs >= limits.idleTimeoutMs) {
    throw new InvalidArgumentError(
      `peer wire limit keepAliveIntervalMs (${limits.keepAliveIntervalMs}) must be below idleTimeoutMs (${limits.idleTimeoutMs})`,
      { subject: 'keepAliveIntervalMs' },
    );
  }
  return limits;
}

/**
 * One thread's share of the limits when `threads` serve the wire on one port (peer.threads): the regular
 * upload slots and the connection cap divided among them (at least 1 each), so that the edge as a whole
 * keeps to what was configured. The optimistic slots and the per-address cap stay per thread (the kernel
 * spreads one address's connections over the threads unevenly).
 */
export function threadShareOfLimits(given: Partial<PeerWireLimits>, threads: number): PeerWireLimits {
  const limits = resolveLimits(given);
  if (threads <= 1) return limits;
  return {
    ...limits,
    uploadSlots: Math.max(1, Math.floor(limits.uploadSlots / threads)),
    maxConnections: Math.max(1, Math.ceil(limits.maxConnections / threads)),
  };
}
