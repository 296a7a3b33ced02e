export {
  bytesHeld,
  createDashboard,
  type Dashboard,
  type DashboardOptions,
  type DashboardStatusView,
  type DashboardStore,
  MAX_PAGE,
  objectPage,
  overview,
  pieceMap,
} from './dashboard.ts';
export { type CounterSample, RateHistory, type RatePoint } from './history.ts';
export {
  CSRF_HEADER,
  cookieValue,
  crossSite,
  type DashboardSession,
  DashboardSessions,
  SESSION_COOKIE,
  SESSION_TTL_MS,
} from './sessions.ts';
export { type SwarmView, statsUrlOf, trackerSwarm } from './swarm.ts';
