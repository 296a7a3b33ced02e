// The public surface of src/qos: egress limits (token buckets shared by the peer wire and HTTP(S) servers),
// priority classes (deficit round robin) and the alt-rate schedule. docs/qos.md.
export { burstOf, TokenBucket } from './bucket.ts';
export {
  Flow,
  type LoadFigures,
  QOS_CHUNK_BYTES,
  Qos,
  type QosClassStatus,
  type QosStatus,
  type SheddingStatus,
} from './qos.ts';
export { formatRate, renderQos } from './render.ts';
export { msUntilAlt } from './schedule.ts';
export {
  DEFAULT_CLASS,
  DEFAULT_QOS,
  formatClasses,
  PROTOCOLS,
  type Protocol,
  parseAssignments,
  parseClasses,
  type QosClass,
  type QosSettings,
  resolveQos,
} from './settings.ts';
