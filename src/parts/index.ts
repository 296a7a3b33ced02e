// The parts a process is built from, with one lifecycle: the agent (src/agent) composes them over its disk
// store; the controller will compose them over its edges. Each part is started by its root and stopped
// through the Lifecycle.
export { type AnnouncesOptions, AnnouncesPart } from './announces.ts';
export { metainfoFromCatalogue, originFromUrlList } from './catalogue.ts';
export { Lifecycle, type Part, type PartPhase } from './lifecycle.ts';
export { DiskPieceReserve, type PieceReserve } from './piece-reserve.ts';
export { RegistrationPart } from './registration.ts';
export { type ReloadOutcome, reloadSteps } from './reload.ts';
export { hashingPart, openStorePart, originPart } from './resources.ts';
export { ScrubPart } from './scrub.ts';
export { type HttpPart, type PeerWirePart, startHttp, startPeerWire } from './servers.ts';
export { runServingThread, type ServingThreadData } from './serving-thread.ts';
export {
  type ServingThreadsOptions,
  type ServingThreadsPart,
  startServingThreads,
  sumHttpStats,
  sumWireStats,
  withThreads,
  withWireThreads,
} from './serving-threads.ts';
export {
  type RecordPlace,
  recordFile,
  type StorageControlOptions,
  StorageControlPart,
  type StorageControlStatus,
  statsSourceFor,
} from './storage-control.ts';
