export { ingestSource } from './ingest.ts';
export { type ManifestEntry, type ManifestProblem, parseManifest, readManifest, sourceProblem } from './manifest.ts';
export { OriginClient, type OriginOptions, originFailure, originFileUrl } from './origin.ts';
export type { IngestContext, IngestOptions, IngestProgress, IngestResult, IngestStatus } from './types.ts';
