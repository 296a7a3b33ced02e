export { agentJson, RemoteOperations } from './client.ts';
export {
  type AgentLinks,
  details,
  heldRanges,
  type ObjectDetails,
  type ObjectSummary,
  type ObjectTransferReport,
  summarize,
} from './describe.ts';
export {
  type AgentDiscovery,
  defaultTokenFile,
  ensureToken,
  findAgent,
  publishAgent,
  readToken,
  unpublishAgent,
} from './discovery.ts';
export { type BulkIngestRequest, failedLine, ingestMany, knownMetainfo, prepareIngest } from './ingest-many.ts';
export {
  closeHttp,
  listenHttp,
  pathOf,
  readBody,
  readJson,
  sendError,
  sendJson,
  toErrorJson,
} from './json-http.ts';
export { type StatusMetrics, signallingMetrics, statusMetrics } from './metrics.ts';
export { openOperations, withOperations } from './open.ts';
export {
  absoluteSources,
  type LinksOf,
  type Operations,
  type ProgressListener,
  StoreOperations,
  type TorrentFile,
} from './operations.ts';
export { type PurgeRequest, type PurgeResult, type PurgeStatus, purge } from './purge.ts';
export { ingestRequest, objectId, purgeRequest } from './requests.ts';
export {
  type AdminRoutes,
  type AdminServer,
  type AdminServerOptions,
  createAdminServer,
  isLoopback,
  type ServedOperations,
} from './server.ts';
export type { SessionOptions } from './session.ts';
export { versions } from './versions.ts';
