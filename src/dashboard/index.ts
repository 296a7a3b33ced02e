export {
  type ControllerDashboardOptions,
  type ControllerStatusView,
  controllerOverview,
  createControllerDashboard,
  type EdgeView,
  type FleetView,
  unionCoverage,
} from './controller-dashboard.ts';
export {
  bytesHeld,
  createDashboard,
  type DashboardOptions,
  type DashboardStatusView,
  type DashboardStore,
  ingestRoute,
  MAX_PAGE,
  ObjectPages,
  objectPage,
  overview,
  pieceMap,
  purgeRoute,
} from './dashboard.ts';
export { type CounterSample, RateHistory, type RatePoint } from './history.ts';
export { LiveFeed, type LiveFeedOptions, type LiveFeedStats, requestedTopics } from './live.ts';
export {
  CSRF_HEADER,
  cookieValue,
  crossSite,
  type DashboardSession,
  DashboardSessions,
  SESSION_COOKIE,
  SESSION_TTL_MS,
} from './sessions.ts';
export { type ApiRequest, createDashboardShell, type Dashboard, type DashboardShellOptions } from './shell.ts';
export { type SwarmView, statsUrlOf, trackerSwarm } from './swarm.ts';
export {
  createTrackerDashboard,
  MAX_LISTED_SWARMS,
  type SwarmListItem,
  type SwarmsView,
  swarmPage,
  type TrackerDashboardOptions,
} from './tracker-dashboard.ts';
