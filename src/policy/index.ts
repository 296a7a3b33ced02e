// The public surface of src/policy: the Network Storage Control Function (TR 23.844 6.2.3). decide() turns
// swarm statistics into ingest and purge decisions (plain data in, plain data out); the statistics source
// follows the reference tracker's change feed. docs/policy.md describes the rules.
export { BANDWIDTH_BURST_S, DEFAULT_SETTINGS, decide, initialState, settingsProblems } from './decide.ts';
export { type OperationOutcome, type PolicyExplanation, renderExplanation } from './explain.ts';
export {
  INGESTED_RECORD_VERSION,
  type IngestedRecord,
  IngestedRecordError,
  ingestedRecordOf,
  stateFromIngestedRecord,
} from './ingested-record.ts';
export {
  InvitationFollower,
  type InvitationFollowerOptions,
  type InvitedSwarm,
  invitationsUrlFromStats,
} from './invitations.ts';
export {
  type CdnHoldings,
  countsFromScrape,
  parseScrape,
  type ScrapeEntry,
  ScrapeStatsSource,
  type ScrapeStatsSourceOptions,
  singleNodeHoldings,
} from './scrape-source.ts';
export { type Arrival, arrivalSource } from './sim/arrivals.ts';
export { deadlineFloor, type EgressFloor, lowestDeadlineFloor, MaxFlow, timingFloor } from './sim/bound.ts';
export { FLOOR_P95_ALLOWANCES, type FloorRow, floorRow, floorTable } from './sim/floors.ts';
export { seededRandom } from './sim/random.ts';
export { markdownTable, svgChart } from './sim/report.ts';
export { SCENARIOS } from './sim/scenarios.ts';
export {
  LIBTORRENT_REQUESTS,
  type Scenario,
  SIM_POLICIES,
  type SimPeerRecord,
  type SimPolicy,
  type SimRequests,
  type SimResult,
  simulate,
} from './sim/simulate.ts';
export {
  CURVE_COPIES_PER_LEECHER,
  CURVE_TOP_UPS_MIB,
  markFrontier,
  type TradeoffPoint,
  tradeoffCurve,
  tradeoffPoint,
  tradeoffSvg,
  tradeoffTable,
} from './sim/tradeoff.ts';
export { type StatsSource, TrackerStatsSource, type TrackerStatsSourceOptions } from './source.ts';
export { countsFromStats, StatsFormatError } from './stats.ts';
export type {
  DecisionReason,
  PieceAction,
  PieceDecision,
  PolicyState,
  Round,
  StatsProblem,
  StatsReading,
  StatsState,
  StorageControlSettings,
  SwarmCounts,
  SwarmDecision,
  SwarmInput,
  SwarmMemory,
} from './types.ts';
