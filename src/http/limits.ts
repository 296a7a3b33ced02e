// The HTTP server's default limits: plain data, no dependencies (src/config reads them at every command's
// start, without loading the server).
import type { HttpLimits, OriginLimits } from './types.ts';

export const DEFAULT_LIMITS: HttpLimits = {
  maxConnections: 4096,
  // A sixteenth of the total: one address (a flood, or one busy NAT) cannot take every slot.
  maxConnectionsPerIp: 256,
  maxHeaderSize: 8192,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  maxRequestsPerSocket: 0,
  maxRanges: 16,
  coalesceGap: 128,
  retryAfterSeconds: 10,
  readAheadPieces: 2,
  directReadMaxBytes: 1024 * 1024,
};

export const DEFAULT_ORIGIN_LIMITS: OriginLimits = { timeoutMs: 20_000, connections: 8 };
