export { details, heldRanges, type ObjectDetails, type ObjectSummary, summarize } from './describe.ts';
export { type BulkIngestRequest, ingestMany, knownMetainfo } from './ingest-many.ts';
export { type PurgeRequest, type PurgeResult, type PurgeStatus, purge } from './purge.ts';
export { LocalSession, type SessionOptions, withSession } from './session.ts';
