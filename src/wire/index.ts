// The public surface of src/wire: the peer wire server (BEP 3, 6, 9, 10, 21, 54) over the store's pieces.
export { allowedFastSet } from './allowed-fast.ts';
export { Choker, type ChokerOptions, type ChokerPeer } from './choker.ts';
export {
  DEFAULT_LIMITS,
  MAX_BLOCK_LENGTH,
  type PeerWireLimits,
  resolveLimits,
  threadShareOfLimits,
} from './options.ts';
export { createPeerWireServer, newPeerId, type PeerWireServer, type PeerWireServerOptions } from './server.ts';
export type { MseMode } from './serving-wire.ts';
export { TOP_UP_HTTP_MAX_PAUSE_MS, TOP_UP_SLOT_MS, TopUpLedger } from './top-up.ts';
export type { PeerGate, PeerInfo, PeerWireStats, WirePieceCache, WireStore } from './types.ts';
