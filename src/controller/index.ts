// The CDN controller (TR 23.844 6.2.2): the aggregate agent of its edges. See docs/controller.md.
export { Controller, type ControllerAddresses } from './controller.ts';
export { EdgeRegistry, type EdgeRegistryStats } from './edge-registry.ts';
export { FleetCatalog, type FleetEdge } from './fleet-catalog.ts';
export type {
  EdgeLiveness,
  EdgeRecord,
  EnrolmentToken,
  FleetEvents,
  FleetState,
  HeldPieces,
  HoldingsChange,
  HoldingsCursor,
  TokenRedemption,
} from './fleet-state.ts';
export { MemoryFleetState } from './memory-fleet-state.ts';
export { ControllerOperations } from './operations.ts';
export { reloadController } from './reload.ts';
export { type ControllerStatus, type EdgeSummary, edgeSummaries } from './status.ts';
