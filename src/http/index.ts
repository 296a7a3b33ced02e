// The public surface of src/http: the agent's HTTP range server (object URLs as BEP 19 web seeds, piece URLs).
export {
  createHttp1Server,
  type Http1Request,
  type Http1Response,
  type Http1Server,
  type OneShotReply,
  REASON_PHRASES,
  renderFields,
} from './http1.ts';
export { DEFAULT_LIMITS, DEFAULT_ORIGIN_LIMITS } from './limits.ts';
export {
  type Location,
  type MissingPiecePolicy,
  type MissingPieceRequest,
  type PieceFetcher,
  REDIRECT_TO_ORIGIN,
  REFUSE_MISSING,
} from './missing-pieces.ts';
export { sha1Verifier } from './pull-through.ts';
export { createHttpServer } from './server.ts';
export type {
  Forwarder,
  ForwardRequest,
  HttpLimits,
  HttpServer,
  HttpServerOptions,
  HttpServerStats,
  HttpStore,
  HttpsCertificate,
  OriginLimits,
  PartialPolicy,
  PieceVerifier,
  PieceWriter,
  RequestGate,
  ResponseEntry,
  ResponseSource,
} from './types.ts';
export { emptyHttpStats } from './types.ts';
export { isHttpOrigin, type ObjectUrls, objectUrls, pieceUrl } from './urls.ts';
