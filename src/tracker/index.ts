// The public surface of src/tracker: the agent's announce client (HTTP, UDP, the bitmap extension) and the
// reference tracker with swarm statistics. The wire format is in docs/tracker.md.
export {
  type AnnounceClient,
  type AnnounceClientEvents,
  type AnnounceClientOptions,
  type AnnounceErrorInfo,
  type AnnounceEventInfo,
  type AnnounceStore,
  createAnnounceClient,
  type ObjectAnnounceStatus,
  type ScrapeReport,
  type TrackerErrorState,
  type TrackerStatus,
} from './client/announce-client.ts';
export { announceUrl, scrapeUrlOf } from './client/http-transport.ts';
export { type Clock, systemClock } from './client/timer-queue.ts';
export {
  type AnnounceSent,
  DefaultTrackerTransport,
  type ScrapeCounts,
  type TrackerTransport,
} from './client/transport.ts';
export {
  type BencodeDictionary,
  BencodeError,
  type BencodeValue,
  decodeBencode,
  encodeBencode,
  isDictionary,
} from './protocol/bencode.ts';
export { BitmapError, decodeBitmap, encodeBitmap } from './protocol/bitmap.ts';
export { ExtensionParam, objectUrl, pieceUrlPattern } from './protocol/extension.ts';
export {
  type AnnounceEvent,
  type AnnounceParams,
  type AnnounceResult,
  type BatchAnnounce,
  encodeBatchAnnounce,
  readAnnounceResult,
  readBatchResults,
  type TrackerPeer,
} from './protocol/messages.ts';
export { swarmStoreLimits, TrackerCore, type TrackerCoreOptions } from './server/core.ts';
export {
  ALLOWED_PATH,
  type PeerAuthCounters,
  TrackerPeerAuth,
  type TrackerPeerAuthOptions,
} from './server/peer-auth.ts';
export { openSwarmStore, redactUrl, type TrackerRedisState } from './server/state.ts';
export {
  type AnnounceOutcome,
  MemorySwarmStore,
  type NetworkPeerStats,
  type PeerAnnounce,
  type PeerStats,
  type ScrapeEntry,
  type SwarmStats,
  type SwarmStore,
  type SwarmStoreLimits,
  type SwarmSummary,
} from './server/swarm-store.ts';
export { createTracker, type Tracker, type TrackerAddress, type TrackerOptions } from './server/tracker.ts';
